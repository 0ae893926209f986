package main

import (
	"context"
	"sync"
)

// group runs actors together; the first to return cancels the others, and
// Wait returns the first error. Each actor must return soon after its
// context is canceled.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(parent context.Context) *group {
	ctx, cancel := context.WithCancel(parent)
	return &group{ctx: ctx, cancel: cancel}
}

// Go starts an actor.
func (g *group) Go(actor func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := actor(g.ctx)
		g.once.Do(func() { g.err = err })
		g.cancel()
	}()
}

// Wait waits for every actor and returns the first one's error.
func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
