package etcddb

import (
	"context"
	"errors"
	"log/slog"

	"diego/models"
)

// Every lifecycle write is a loop of read → check the transition → one
// guarded transaction (decision 40). A transaction whose guard fails lost a
// race to a concurrent write; the loop then reads again and re-checks the
// transition against what won: still legal → apply it to the new record,
// illegal now → that operation's own error (InvalidStateTransition,
// ActualLRPCannotBeClaimed, ResourceNotFound, …), exactly as if the calls
// had come one after the other. Only a write that keeps losing for
// casAttempts rounds answers the lost-race error (ResourceConflict or the
// operation's own). docs/bbs.md lists every write path and its races.

// casAttempts bounds the rounds of one write. Each lost round means another
// writer's round succeeded, so a write only exhausts this under ten
// concurrent writers of the same record.
const casAttempts = 10

// lostRace is a guarded transaction whose guard did not hold: the record
// changed (or appeared, or went) since it was read. It unwraps to the error
// the caller answers if it gives up.
type lostRace struct {
	key    string
	failed *models.Error
}

func (e *lostRace) Error() string { return e.key + ": " + e.failed.Error() }
func (e *lostRace) Unwrap() error { return e.failed }

// raceHook, set by tests only (export_test.go), runs after each round's
// read and before its write, so that a race can be staged there.
var raceHook func(op string, attempt int)

func staged(op string, attempt int) {
	if raceHook != nil {
		raceHook(op, attempt)
	}
}

// retryLostRace runs round (numbered from 1) until it does not lose a race,
// at most casAttempts times, and returns its last error.
func retryLostRace(ctx context.Context, logger *slog.Logger, op string, round func(attempt int) error) error {
	var err error
	for attempt := 1; attempt <= casAttempts; attempt++ {
		err = round(attempt)
		var lost *lostRace
		if !errors.As(err, &lost) || ctx.Err() != nil {
			return err
		}
		logger.Debug("lost-race-rereading", "op", op, "attempt", attempt, "key", lost.key)
	}
	logger.Info("gave-up-after-lost-races", "op", op, "attempts", casAttempts)
	return err
}

// retryFromCache is retryLostRace for the writes whose round reads one
// record and guards the transaction on that record's revision (decision
// 131). The first round's read comes from the record cache without the
// read barrier: the compare on the revision it returns is the check, so a
// stale record loses the compare and the next round reads through a fresh
// barrier. A first round that decides without writing (a no-op repeat, an
// illegal transition, a missing record) is confirmed by a round that reads
// through the barrier, since nothing compared what it read.
func retryFromCache(ctx context.Context, logger *slog.Logger, op string, round func(ctx context.Context, attempt int) error) error {
	var err error
	rounds := casAttempts
	for attempt := 1; attempt <= rounds; attempt++ {
		wr := &writeRound{skipBarrier: attempt == 1}
		err = round(context.WithValue(ctx, writeRoundKey{}, wr), attempt)
		if ctx.Err() != nil {
			return err
		}
		var lost *lostRace
		switch {
		case errors.As(err, &lost):
			logger.Debug("lost-race-rereading", "op", op, "attempt", attempt, "key", lost.key)
		case wr.unguarded && !wr.committed:
			// Not a lost race: the confirmation is a round of its own.
			rounds++
			logger.Debug("confirming-cached-read", "op", op)
		default:
			return err
		}
	}
	logger.Info("gave-up-after-lost-races", "op", op, "attempts", casAttempts)
	return err
}

// writeRound is one round of retryFromCache, carried in its context: the
// record cache serves the round's first Get without the barrier when
// skipBarrier is set and says so in unguarded; commitTxn records that the
// round sent its guarded transaction.
type writeRound struct {
	skipBarrier bool
	unguarded   bool
	committed   bool
}

type writeRoundKey struct{}

func roundOf(ctx context.Context) *writeRound {
	wr, _ := ctx.Value(writeRoundKey{}).(*writeRound)
	return wr
}
