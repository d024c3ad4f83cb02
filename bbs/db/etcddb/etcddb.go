// Package etcddb stores the BBS's records in etcd v3 (spec core §4). It is,
// with bbs/lock, the only package that imports the etcd client.
//
// Every record is one key (keys.go) holding an enveloped protobuf
// (codec.go). Every write is read → modify → one transaction that compares
// the revision it read (store.go) and, in the same transaction, keeps the
// secondary index keys in step with the record.
package etcddb

import (
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/bbs/db"
	"diego/deploy/clock"
)

var _ db.TaskDB = (*ETCDDB)(nil)

// ETCDDB implements the db interfaces on an etcd v3 client.
type ETCDDB struct {
	client *clientv3.Client
	// kv is where records are read and written: direct, or the record
	// cache once EnableCache has run.
	kv clientv3.KV
	// direct is the client, behind the group commit unless the config
	// turns it off: where the cache reads and writes.
	direct clientv3.KV
	clock  clock.Clock
	keys   Keys
}

// Config says where the store keeps its records.
type Config struct {
	// Root is the key prefix ("" means DefaultRoot).
	Root string
	// SerialCommits sends every write transaction to etcd on its own
	// instead of committing concurrent writes together (decision 180);
	// for A/B measurements.
	SerialCommits bool
}

// Deps are the etcd connection, which the caller owns, and the clock that
// stamps the records.
type Deps struct {
	Client *clientv3.Client
	Clock  clock.Clock
}

// New returns a store over deps.Client.
func New(cfg Config, deps Deps) *ETCDDB {
	var direct clientv3.KV = deps.Client
	if !cfg.SerialCommits {
		direct = newGroupKV(deps.Client)
	}
	return &ETCDDB{client: deps.Client, kv: direct, direct: direct, clock: deps.Clock, keys: NewKeys(cfg.Root)}
}

// Keys is the key schema this store writes.
func (e *ETCDDB) Keys() Keys { return e.keys }

func (e *ETCDDB) now() int64 { return e.clock.Now().UnixNano() }
