// Package outbox is the Deimos-compatible transactional-outbox relay
// (spec section 2), and the insert side other commands use to write
// kafka_messages rows exactly as Deimos does (spec 2.9).
package outbox
