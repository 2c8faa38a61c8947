"""The demo library: an exchange file (library.yaml) and the champion templates it refers to."""
