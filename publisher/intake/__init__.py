"""Sources of posts: the queue folder and its post files, recurring schedules, evergreen pools."""
