// Package migrate creates and upgrades every table the tools use, exactly as
// Deimos and phobos_db_checkpoint create theirs (spec section 1 and 7.1).
package migrate
