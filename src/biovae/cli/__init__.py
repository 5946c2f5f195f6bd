"""The biovae command line."""
