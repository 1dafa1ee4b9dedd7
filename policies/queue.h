/* policies/queue.h - the FIFO wait queue of the policies that queue their waiters' records
 * (fifo, ruby): a singly linked list through each record's `next`, with head and tail. Macros,
 * since each policy's record is a type of its own. */
#ifndef GILSIM_QUEUE_H
#define GILSIM_QUEUE_H

#include <stddef.h>

/* w goes to the tail. */
#define QUEUE_APPEND(head, tail, w)                                                                \
    do {                                                                                           \
        (w)->next = NULL;                                                                          \
        if (tail)                                                                                  \
            (tail)->next = (w);                                                                    \
        else                                                                                       \
            (head) = (w);                                                                          \
        (tail) = (w);                                                                              \
    } while (0)

/* w (of type `type`) leaves the queue, wherever it is; nothing when it is not in it. */
#define QUEUE_UNLINK(head, tail, w, type)                                                          \
    do {                                                                                           \
        type **link_ = &(head), *prev_ = NULL;                                                     \
        while (*link_ && *link_ != (w)) {                                                          \
            prev_ = *link_;                                                                        \
            link_ = &(*link_)->next;                                                               \
        }                                                                                          \
        if (*link_) {                                                                              \
            *link_ = (w)->next;                                                                    \
            if ((tail) == (w)) (tail) = prev_;                                                     \
        }                                                                                          \
    } while (0)

#endif
