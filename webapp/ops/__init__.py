"""Probes for whoever runs the app: is the process alive, and is it ready to serve."""
