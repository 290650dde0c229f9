"""Small helpers shared by the launcher, the tests and the bench: free loopback
ports (`ports`), polling with a deadline and a message (`waiting`), and child
processes in their own process group, stopped by id (`managed`)."""
