"""Reading and validating inputs: file readers, validation and quarantine reasons, coordinate
notations, place names. Imports only the base modules."""
