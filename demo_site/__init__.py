"""The demo site (one static site from the shipped models) and the script that reproduces those models."""
