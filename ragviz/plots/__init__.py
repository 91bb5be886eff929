"""Plotly figures: pure functions, data in, figure out. Streamlit never appears here."""
