// Keeps large freed blocks inside the process instead of returning them to the kernel.
//
// A training step allocates and frees the same large activation and gradient arrays every
// step (numpy owns them; they come from malloc). With glibc's defaults, blocks above the
// mmap threshold are mmap'ed and unmapped, and freed heap tops are trimmed, so every step
// touches fresh pages: thousands of page faults per step, measured at a quarter of the
// cnn-small step time. Raising M_MMAP_THRESHOLD and M_TRIM_THRESHOLD makes those blocks
// reusable. Peak memory is unchanged; up to the trim threshold of free memory stays mapped.
#pragma once

namespace gradcore {

// Applies the tuning on the first call (glibc only) unless GRADCORE_MALLOC_TUNING=0 is set;
// every call returns whether it is in effect.
bool tune_malloc();

}  // namespace gradcore
