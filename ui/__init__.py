"""Streamlit-side helpers of GRU Lab: shared settings, data access, the live run, error display.

Everything here may import streamlit; the model/data/training logic lives in ``gru_core``.
"""
