"""Serving one study on several ``streamlit run`` processes behind HAProxy (``xai-study serve``).

Streamlit runs each session's script in the process that holds its websocket, and one process uses one
core at a time; several processes behind a proxy with cookie affinity scale a study out, with the
database as the only shared memory (see ``deploy/README.md``).
"""
