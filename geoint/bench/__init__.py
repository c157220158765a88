"""`geoint bench ...`: each benchmark prints its figure and its baseline from the same run."""
