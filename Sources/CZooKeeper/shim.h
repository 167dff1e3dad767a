#ifndef CZOOKEEPER_SHIM_H
#define CZOOKEEPER_SHIM_H

// The multi-threaded C client: its completions run on the client's own
// completion thread, and the THREADED declarations (zoo_* sync calls) exist.
#ifndef THREADED
#define THREADED 1
#endif

#include <zookeeper/zookeeper.h>
#include <zookeeper/zookeeper_version.h>

// The C client exposes its ACL and Id constants as mutable globals, which
// Swift 6 strict concurrency cannot read directly. These accessors return
// pointers the C client itself treats as read-only.
static inline struct ACL_vector *czk_open_acl_unsafe(void) { return &ZOO_OPEN_ACL_UNSAFE; }
static inline struct ACL_vector *czk_read_acl_unsafe(void) { return &ZOO_READ_ACL_UNSAFE; }
static inline struct ACL_vector *czk_creator_all_acl(void) { return &ZOO_CREATOR_ALL_ACL; }
static inline struct Id *czk_anyone_id_unsafe(void) { return &ZOO_ANYONE_ID_UNSAFE; }
static inline struct Id *czk_auth_ids(void) { return &ZOO_AUTH_IDS; }

// Session states and watch event types are `extern const int` globals.
static inline int czk_expired_session_state(void) { return ZOO_EXPIRED_SESSION_STATE; }
static inline int czk_auth_failed_state(void) { return ZOO_AUTH_FAILED_STATE; }
static inline int czk_connecting_state(void) { return ZOO_CONNECTING_STATE; }
static inline int czk_associating_state(void) { return ZOO_ASSOCIATING_STATE; }
static inline int czk_connected_state(void) { return ZOO_CONNECTED_STATE; }
static inline int czk_readonly_state(void) { return ZOO_READONLY_STATE; }
static inline int czk_notconnected_state(void) { return ZOO_NOTCONNECTED_STATE; }

static inline int czk_created_event(void) { return ZOO_CREATED_EVENT; }
static inline int czk_deleted_event(void) { return ZOO_DELETED_EVENT; }
static inline int czk_changed_event(void) { return ZOO_CHANGED_EVENT; }
static inline int czk_child_event(void) { return ZOO_CHILD_EVENT; }
static inline int czk_session_event(void) { return ZOO_SESSION_EVENT; }
static inline int czk_notwatching_event(void) { return ZOO_NOTWATCHING_EVENT; }

// Create modes are `extern const int` globals as well.
static inline int czk_persistent(void) { return ZOO_PERSISTENT; }
static inline int czk_ephemeral(void) { return ZOO_EPHEMERAL; }
static inline int czk_persistent_sequential(void) { return ZOO_PERSISTENT_SEQUENTIAL; }
static inline int czk_ephemeral_sequential(void) { return ZOO_EPHEMERAL_SEQUENTIAL; }
static inline int czk_container(void) { return ZOO_CONTAINER; }
static inline int czk_persistent_with_ttl(void) { return ZOO_PERSISTENT_WITH_TTL; }
static inline int czk_persistent_sequential_with_ttl(void) { return ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL; }

// Permission bits.
static inline int czk_perm_read(void) { return ZOO_PERM_READ; }
static inline int czk_perm_write(void) { return ZOO_PERM_WRITE; }
static inline int czk_perm_create(void) { return ZOO_PERM_CREATE; }
static inline int czk_perm_delete(void) { return ZOO_PERM_DELETE; }
static inline int czk_perm_admin(void) { return ZOO_PERM_ADMIN; }
static inline int czk_perm_all(void) { return ZOO_PERM_ALL; }

#endif
