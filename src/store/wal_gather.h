// An SQLite VFS that writes a commit's WAL frames into the file with one write call instead of
// two per page.
//
// SQLite appends each frame of the WAL as two writes: its 24-byte header, then the page. A group
// commit of postbacks dirties a few hundred pages in random places, so its COMMIT made some five
// hundred pwrite calls, each touching one or two pages of the kernel's page cache (the frames are
// 4,120 bytes, not page-aligned): about half of the writer thread's time in the add_tags
// benchmark. Through this VFS the frames a connection appends while it holds the WAL's write lock
// are gathered in memory and written in a few calls when the commit frame (the one whose header
// carries the database size) is complete, inside the COMMIT's own write call, so a failure still
// fails the COMMIT. Commits become visible to other connections only after that (SQLite
// publishes a commit in the WAL index after its frames are written), and an fsync of the WAL by
// another descriptor (the store's sync thread) covers every commit whose COMMIT has returned.
//
// Everything else that could see or depend on the file (a read, an fsync, a truncation, the
// size, a write anywhere but the end, closing) writes what is gathered first. A failure to write
// it is reported as an I/O error, which makes SQLite roll the whole transaction back (a "disk
// full" would undo only the statement, keeping frames SQLite believes written). What is still
// gathered when the write lock is let go belongs to a transaction that did not commit and is
// dropped: written later, it could overwrite frames another connection has committed since.
//
// The database file, the WAL index and other files are the default VFS's, passed straight on
// (the database file's shared-memory locks are watched for the write lock).
#pragma once

namespace store {

// The VFS's name for sqlite3_open_v2, registered (not as the default) on the first call.
// Thread-safe.
const char* WalGatherVfs();

}  // namespace store
