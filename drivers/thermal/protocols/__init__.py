"""One module per scanner family; each registers its protocol key."""
