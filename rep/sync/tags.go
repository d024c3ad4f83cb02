package sync

// The container tags the rep sets when it allocates a container and reads
// back when it processes one (spec cell §4.4). Every container the rep owns
// carries LifecycleTag; the operation processor dispatches on it.
const (
	// LifecycleTag is LRPLifecycle or TaskLifecycle.
	LifecycleTag = "lifecycle"
	// DomainTag is the LRP's or task's domain.
	DomainTag = "domain"
	// ProcessGuidTag, ProcessIndexTag and InstanceGuidTag identify an LRP
	// instance (LRPs only). The index is a decimal string.
	ProcessGuidTag  = "process-guid"
	ProcessIndexTag = "process-index"
	InstanceGuidTag = "instance-guid"
	// PlacementTagsTag and VolumeDriversTag are JSON arrays of strings.
	PlacementTagsTag = "placement-tags"
	VolumeDriversTag = "volume-drivers"
	// ResultFileTag is a task's result_file, added by the RunRequest (not at
	// allocation).
	ResultFileTag = "result-file"
)

// The values of LifecycleTag.
const (
	LRPLifecycle  = "lrp"
	TaskLifecycle = "task"
)
