package transfer

import "context"

// send puts v on ch unless ctx is done first: the hand-off between the
// stages of every pipeline here (walk or listing, then workers), so that a
// failed stage never leaves another blocked on a full channel.
func send[T any](ctx context.Context, ch chan<- T, v T) error {
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
