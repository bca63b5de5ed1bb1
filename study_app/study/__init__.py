"""Study engine: study file schema, design and randomisation, participant state machine.

Plain Python: no Streamlit import."""
