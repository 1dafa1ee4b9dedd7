/* common/outfile.h - the output rules, in one place, for every command that writes a file
 * (docs/reliability.md, "Output rules"):
 *
 *  - The output is never one of the command's inputs (same device and inode, whatever the
 *    names): refused.
 *  - A directory, socket or block device at the path: refused. A character device (/dev/null,
 *    a terminal) or a FIFO is written in place, streaming, nothing renamed. "-" is standard
 *    output where the command allows it.
 *  - Anything else is written to a temporary file beside the path, created exclusively with an
 *    unpredictable name (mkstemp: O_CREAT|O_EXCL, never opened by a fixed name), and renamed
 *    over the path only when complete: a reader never sees half a file, a failed or
 *    interrupted write leaves the old file, and a symlink at the path is replaced, never
 *    written through.
 *  - The file gets the mode the umask gives (0666 & ~umask), like any other tool's output.
 *  - The temporary file is fsynced before the rename and its directory after it: on NFS or
 *    Lustre scratch (where sweeps live) a crash of the machine can otherwise leave an empty file
 *    under the final name, or the old one back. OUTFILE_NO_SYNC skips both (gilsim run
 *    --no-fsync, for traces: the largest files, written after the run, never on its hot path).
 *  - The path and the temporary name are checked for length (PATH_MAX, NAME_MAX) up front.
 *
 * A refusal is ERR_INPUT (exit 2) and found before the command does its work; a failed write
 * (a full disk) is ERR_RUNTIME (exit 1), the temporary file removed and the path untouched. */
#ifndef GILSIM_OUTFILE_H
#define GILSIM_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"

enum outfile_flags {
    OUTFILE_STDOUT = 1,  /* "-" means standard output */
    OUTFILE_NO_SYNC = 2, /* no fsync of the file and its directory */
    /* A name a command owns in a directory of its own (compare's DIR): whatever is at the path,
     * a symlink, a FIFO, a device, is replaced, never written through or waited on; only a
     * directory is refused. */
    OUTFILE_REPLACE = 4,
};

struct outfile;

/* Opens path for writing under the rules above. inputs: the files the command reads (NULL, or
 * a NULL-terminated list). */
int outfile_open(struct outfile **of, const char *path, unsigned flags, const char *const *inputs,
                 struct err *e);
FILE *outfile_stream(const struct outfile *of);
/* The temporary file until commit (for a cleanup on a hard exit); NULL when writing in place. */
const char *outfile_tmp_path(const struct outfile *of);
/* Flushes and closes the stream and renames the temporary file into place; frees of, also on
 * failure (the temporary file is then removed). */
int outfile_commit(struct outfile *of, struct err *e);
/* Removes the temporary file and frees of (NULL: nothing). */
void outfile_abort(struct outfile *of);

/* The whole write in one call: open, fn(stream, ctx) (0 or an error status it set in e),
 * commit. */
int outfile_write(const char *path, unsigned flags, const char *const *inputs,
                  int (*fn)(FILE *f, void *ctx, struct err *e), void *ctx, struct err *e);

/* fsyncs the directory that holds path (after a rename into it): 0, or ERR_RUNTIME. A
 * filesystem that cannot sync a directory (EINVAL) is not an error. */
int outfile_sync_dir(const char *path, struct err *e);

/* The outputs of one command (n paths; NULL entries skipped) name different files: two names
 * of one file (./x and x, a symlinked directory) would have one output replace the other.
 * ERR_INPUT naming both. */
int outfile_check_distinct(const char *const *paths, const char *const *what, size_t n,
                           struct err *e);

/* The checks of outfile_open that need no file: the path's length and its temporary name's.
 * For commands that compose paths (a directory and names in it): all checked before any work. */
int outfile_check_path(const char *path, struct err *e);

/* Flushes and closes standard output at the end of a command that printed to it, as coreutils'
 * close_stdout does: a write error (a full disk, an I/O error) that the buffered writes hid is
 * one line "PROG: standard output: ..." on stderr and exit status 1 (a status the command
 * already failed with is kept). Returns the exit status. */
int outfile_close_stdout(const char *prog, int status);

#endif
