"""Design of new sequences and its safeguards: screening samples before they leave biovae."""
