"""Explanation engine: Captum methods, one visual language, faithfulness, precompute cache.

Knows nothing of Streamlit or the database."""
