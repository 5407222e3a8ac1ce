"""Today and Upcoming: the user's open tasks by when they are due."""
