"""Plots and HTML reports. The only package that imports matplotlib; it reads plain records."""
