"""Pages run by ``st.navigation`` (one file each) and the participant flow's step renderers (``steps/``).

Pages only draw: the engine decides what comes next and stores answers; the explanation service makes maps.
"""
