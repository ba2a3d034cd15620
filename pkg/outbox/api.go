// Package outbox is the Deimos-compatible transactional-outbox relay
// (docs/deimos-compat.md §2), and the insert side other commands use to write
// kafka_messages rows exactly as Deimos does (§3).
package outbox
