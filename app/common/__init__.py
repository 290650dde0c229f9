"""Building blocks every Python service of the shop stack shares."""
