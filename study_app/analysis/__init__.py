"""What a study's data says: tables, reliance measures, power and analysis scripts. No Streamlit here.

Everything reads the export's rows (what ``xai-study export`` writes), so the dashboard, the CSV and the
scripts a researcher publishes can never disagree.
"""
