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
	// kv is where records are read and written: the client, or the
	// record cache once EnableCache has run.
	kv    clientv3.KV
	clock clock.Clock
	keys  Keys
}

// New returns a store that keeps its records below root ("" means
// DefaultRoot) and stamps them with clock's time. The caller owns client.
func New(client *clientv3.Client, clock clock.Clock, root string) *ETCDDB {
	return &ETCDDB{client: client, kv: client, clock: clock, keys: NewKeys(root)}
}

// Keys is the key schema this store writes.
func (e *ETCDDB) Keys() Keys { return e.keys }

func (e *ETCDDB) now() int64 { return e.clock.Now().UnixNano() }
