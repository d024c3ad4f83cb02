package etcddb

// The whole key schema of the BBS, below a configurable root (default
// "/diego"). Records follow spec core §4.1 (the 2015 names); index keys are
// this implementation's own and are not part of the contract.
//
//	kind        key (below root)                                              value                    writer
//	----------  ------------------------------------------------------------  -----------------------  -------------
//	task        /v1/task/<guid>                                               envelope + proto Task    etcddb
//	sched info  /v1/desired_lrp/schedule/<process_guid>                       envelope + proto         etcddb (LRPs)
//	run info    /v1/desired_lrp/run/<process_guid>                            envelope + proto         etcddb (LRPs)
//	actual      /v1/actual/<process_guid>/<index>/instance                    envelope + ActualLRP     etcddb (LRPs)
//	evacuating  /v1/actual/<process_guid>/<index>/evacuating                  envelope + ActualLRP     etcddb (LRPs), leased
//	domain      /v1/domain/<domain>                                           empty                    etcddb, leased (ttl)
//	cell        /v1/cell/<cell_id>                                            CellPresence JSON        bbs/lock (presence)
//	lock        /v1/locks/<name>                                              owner JSON               bbs/lock
//	---- secondary indexes: empty values, written in the same Txn as the record they index ----
//	task/cell   /v1/index/task-by-cell/<cell_id>/<guid>                       empty                    etcddb
//	task/domain /v1/index/task-by-domain/<domain>/<guid>                      empty                    etcddb
//	actual/cell /v1/index/actual-by-cell/<cell_id>/<process_guid>/<index>/<instance|evacuating>  empty  etcddb (LRPs)
//	desired/dom /v1/index/desired-by-domain/<domain>/<process_guid>           empty                    etcddb (LRPs)
//
// Record keys use the names verbatim, as the spec does (guids are validated
// and contain no '/'). Every segment of an index key is path-escaped, so a
// cell id or domain containing '/' can never fall under another's prefix;
// the indexed guid is always the last segment. An actual record has a cell
// entry only while it has an instance key (never UNCLAIMED or CRASHED); an
// evacuating record's entry is put under the record's own lease, so both
// expire together.

import (
	"net/url"
	"strconv"
	"strings"
)

// DefaultRoot is the root of every key when none is configured.
const DefaultRoot = "/diego"

// Keys builds every key the BBS stores. The zero value is not usable; use
// NewKeys.
type Keys struct {
	root string
}

// NewKeys returns the schema below root ("" means DefaultRoot). A trailing
// slash is ignored.
func NewKeys(root string) Keys {
	root = strings.TrimRight(root, "/")
	if root == "" {
		root = DefaultRoot
	}
	return Keys{root: root}
}

// Root is the configured root, without a trailing slash.
func (k Keys) Root() string { return k.root }

func (k Keys) join(parts ...string) string {
	return k.root + "/" + strings.Join(parts, "/")
}

func (k Keys) index(name string, segments ...string) string {
	parts := make([]string, 0, len(segments)+3)
	parts = append(parts, "v1", "index", name)
	for _, s := range segments {
		parts = append(parts, url.PathEscape(s))
	}
	return k.join(parts...)
}

// ---- records ----

// TaskPrefix holds every task record.
func (k Keys) TaskPrefix() string { return k.join("v1", "task") + "/" }

// Task is the record of one task.
func (k Keys) Task(guid string) string { return k.TaskPrefix() + guid }

// SchedulingInfoPrefix holds every desired LRP's scheduling info.
func (k Keys) SchedulingInfoPrefix() string { return k.join("v1", "desired_lrp", "schedule") + "/" }

// SchedulingInfo is one desired LRP's scheduling info.
func (k Keys) SchedulingInfo(processGuid string) string {
	return k.SchedulingInfoPrefix() + processGuid
}

// RunInfoPrefix holds every desired LRP's run info.
func (k Keys) RunInfoPrefix() string { return k.join("v1", "desired_lrp", "run") + "/" }

// RunInfo is one desired LRP's run info.
func (k Keys) RunInfo(processGuid string) string { return k.RunInfoPrefix() + processGuid }

// ActualPrefix holds every actual LRP, ordinary and evacuating.
func (k Keys) ActualPrefix() string { return k.join("v1", "actual") + "/" }

// ActualProcessPrefix holds every actual LRP of one process guid.
func (k Keys) ActualProcessPrefix(processGuid string) string {
	return k.ActualPrefix() + processGuid + "/"
}

// ActualInstance is the ordinary actual LRP at one index.
func (k Keys) ActualInstance(processGuid string, index int32) string {
	return k.ActualProcessPrefix(processGuid) + strconv.Itoa(int(index)) + "/instance"
}

// ActualEvacuating is the evacuating actual LRP at one index.
func (k Keys) ActualEvacuating(processGuid string, index int32) string {
	return k.ActualProcessPrefix(processGuid) + strconv.Itoa(int(index)) + "/evacuating"
}

// DomainPrefix holds every fresh domain.
func (k Keys) DomainPrefix() string { return k.join("v1", "domain") + "/" }

// Domain marks one domain fresh.
func (k Keys) Domain(domain string) string { return k.DomainPrefix() + domain }

// CellPrefix holds every cell presence (written by bbs/lock).
func (k Keys) CellPrefix() string { return k.join("v1", "cell") + "/" }

// Cell is one cell's presence.
func (k Keys) Cell(cellID string) string { return k.CellPrefix() + cellID }

// LockPrefix holds every lock (written by bbs/lock).
func (k Keys) LockPrefix() string { return k.join("v1", "locks") + "/" }

// Lock is one named lock.
func (k Keys) Lock(name string) string { return k.LockPrefix() + name }

// ---- secondary indexes ----

// IndexPrefix holds every secondary index key.
func (k Keys) IndexPrefix() string { return k.join("v1", "index") + "/" }

// TaskByCellPrefix holds the index entries of the tasks on one cell.
func (k Keys) TaskByCellPrefix(cellID string) string {
	return k.index("task-by-cell", cellID) + "/"
}

// TaskByCell records that task guid is on cellID.
func (k Keys) TaskByCell(cellID, guid string) string {
	return k.index("task-by-cell", cellID, guid)
}

// TaskByDomainPrefix holds the index entries of the tasks in one domain.
func (k Keys) TaskByDomainPrefix(domain string) string {
	return k.index("task-by-domain", domain) + "/"
}

// TaskByDomain records that task guid is in domain.
func (k Keys) TaskByDomain(domain, guid string) string {
	return k.index("task-by-domain", domain, guid)
}

// ActualByCellPrefix holds the index entries of the actual LRPs on one cell.
func (k Keys) ActualByCellPrefix(cellID string) string {
	return k.index("actual-by-cell", cellID) + "/"
}

// ActualByCell records that an actual LRP (evacuating or not) is on cellID.
func (k Keys) ActualByCell(cellID, processGuid string, index int32, evacuating bool) string {
	kind := "instance"
	if evacuating {
		kind = "evacuating"
	}
	return k.index("actual-by-cell", cellID, processGuid, strconv.Itoa(int(index)), kind)
}

// DesiredByDomainPrefix holds the index entries of the desired LRPs in one
// domain.
func (k Keys) DesiredByDomainPrefix(domain string) string {
	return k.index("desired-by-domain", domain) + "/"
}

// DesiredByDomain records that desired LRP processGuid is in domain.
func (k Keys) DesiredByDomain(domain, processGuid string) string {
	return k.index("desired-by-domain", domain, processGuid)
}

// guidFromIndexKey returns the indexed guid: the last, escaped segment.
func guidFromIndexKey(key string) (string, bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 || i == len(key)-1 {
		return "", false
	}
	guid, err := url.PathUnescape(key[i+1:])
	if err != nil {
		return "", false
	}
	return guid, true
}
