package lock

// WatchPresencesFrom lets tests resume a watch from a revision, such as
// one since compacted.
var WatchPresencesFrom = watchPresencesFrom
