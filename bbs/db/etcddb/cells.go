package etcddb

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/bbs/db"
	"diego/deploy/logging"
	"diego/models"
)

var _ db.CellDB = (*ETCDDB)(nil)

// Cells lists the cell presences bbs/lock keeps under /v1/cell/ (modern
// CellPresence JSON); presences that cannot be decoded are skipped.
func (e *ETCDDB) Cells(ctx context.Context, logger *slog.Logger) ([]*models.CellPresence, error) {
	logger = logging.Session(logger, "cells")
	prefix := e.keys.CellPrefix()
	resp, err := e.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, etcdError("range", prefix, err)
	}
	cells := make([]*models.CellPresence, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		cell, err := decodeCell(string(kv.Key), kv.Value)
		if err != nil {
			logger.Error("skipping-undecodable-presence", "key", string(kv.Key), "error", err)
			continue
		}
		cells = append(cells, cell)
	}
	return cells, nil
}

// CellByID returns one cell's presence.
func (e *ETCDDB) CellByID(ctx context.Context, logger *slog.Logger, cellID string) (*models.CellPresence, error) {
	key := e.keys.Cell(cellID)
	resp, err := e.kv.Get(ctx, key)
	if err != nil {
		return nil, etcdError("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, keyError(key, models.ErrResourceNotFound)
	}
	return decodeCell(key, resp.Kvs[0].Value)
}

func decodeCell(key string, value []byte) (*models.CellPresence, error) {
	cell := &models.CellPresence{}
	if err := json.Unmarshal(value, cell); err != nil {
		return nil, fmt.Errorf("decoding %s: %v: %w", key, err, models.ErrDeserialize)
	}
	return cell, nil
}
