// Package store holds everything idp keeps: one bbolt file with the documents, the durable
// priority queue, per-stage progress, the page cache and local checkpoints, and the blob tier
// (a local directory today, S3 behind the same interface) for originals and durable copies.
//
// bbolt rules we keep: one writer at a time, short read transactions, bytes copied out before a
// transaction ends, no I/O other than bbolt inside a transaction, big-endian keys where a cursor
// must walk in order.
package store
