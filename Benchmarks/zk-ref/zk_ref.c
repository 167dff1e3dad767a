/*
 * zk_ref — the reference for the ZooKeeper benchmark: the same get/set workload
 * that the Swift benchmark runs through ZooKeeperClient, issued directly on the
 * official C client (libzookeeper-mt). Built by scripts/bench.sh.
 *
 *   zk_ref HOST:PORT get|set DEPTH COUNT
 *
 * DEPTH 1 uses the synchronous zoo_get / zoo_set (one request at a time);
 * DEPTH > 1 keeps DEPTH requests outstanding with zoo_aget / zoo_aset.
 * Prints one line: "ops_per_sec=<n> errors=<n>".
 * ZK_REF_RESOLUTION_DELAY_MS=N: zoo_set_servers_resolution_delay(zh, N) after connecting.
 */
#define THREADED 1
#include <zookeeper/zookeeper.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long outstanding = 0, completed = 0, errors = 0;
static int connected = 0;

static char value[64];
static const char *path = "/autocluster-bench-ref";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void watcher(zhandle_t *zh, int type, int state, const char *p, void *ctx) {
    (void)zh; (void)p; (void)ctx;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
        pthread_mutex_lock(&lock);
        connected = 1;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
    }
}

static void finish(int rc) {
    pthread_mutex_lock(&lock);
    outstanding--;
    completed++;
    if (rc != ZOK) errors++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static void data_done(int rc, const char *v, int len, const struct Stat *s, const void *d) {
    (void)v; (void)len; (void)s; (void)d;
    finish(rc);
}

static void stat_done(int rc, const struct Stat *s, const void *d) {
    (void)s; (void)d;
    finish(rc);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST:PORT get|set DEPTH COUNT\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int isGet = strcmp(argv[2], "get") == 0;
    long depth = atol(argv[3]), count = atol(argv[4]);
    if (depth < 1 || count < 1) { fprintf(stderr, "DEPTH and COUNT must be positive\n"); return 2; }
    memset(value, 'v', sizeof value);

    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zhandle_t *zh = zookeeper_init(host, watcher, 10000, NULL, NULL, 0);
    if (!zh) { perror("zookeeper_init"); return 1; }
    /* The library re-resolves the host names every time it polls its socket unless given a
     * delay; ZooKeeperClient sets one (hostResolutionInterval, 1 s). Same setting here when
     * ZK_REF_RESOLUTION_DELAY_MS is set, for a like-for-like comparison. */
    const char *delay = getenv("ZK_REF_RESOLUTION_DELAY_MS");
    if (delay) zoo_set_servers_resolution_delay(zh, atoi(delay));
    pthread_mutex_lock(&lock);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    while (!connected) {
        if (pthread_cond_timedwait(&cond, &lock, &deadline) != 0) {
            fprintf(stderr, "zk_ref: no session with %s within 10 s\n", host);
            return 1;
        }
    }
    pthread_mutex_unlock(&lock);

    int rc = zoo_create(zh, path, value, sizeof value, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) { fprintf(stderr, "zk_ref: create: %s\n", zerror(rc)); return 1; }

    char buf[128];
    double start = now();
    if (depth == 1) {
        for (long i = 0; i < count; i++) {
            if (isGet) {
                int len = sizeof buf;
                rc = zoo_get(zh, path, 0, buf, &len, NULL);
            } else {
                rc = zoo_set(zh, path, value, sizeof value, -1);
            }
            completed++;
            if (rc != ZOK) errors++;
        }
    } else {
        for (long sent = 0; sent < count; sent++) {
            pthread_mutex_lock(&lock);
            while (outstanding >= depth) pthread_cond_wait(&cond, &lock);
            outstanding++;
            pthread_mutex_unlock(&lock);
            rc = isGet ? zoo_aget(zh, path, 0, data_done, NULL)
                       : zoo_aset(zh, path, value, sizeof value, -1, stat_done, NULL);
            if (rc != ZOK) finish(rc);
        }
        pthread_mutex_lock(&lock);
        while (completed < count) pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
    }
    double elapsed = now() - start;
    printf("ops_per_sec=%.0f errors=%ld\n", count / elapsed, errors);
    zookeeper_close(zh);
    return errors ? 1 : 0;
}
