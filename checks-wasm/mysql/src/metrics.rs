//! Which server variable becomes which series, with Datadog's names and kinds, by family.

use wasmon_sdk::MetricKind::{self, Gauge, MonotonicCount as Monotonic, Rate};

/// `(variable, metric, kind)` rows of one family.
pub type Table = &'static [(&'static str, &'static str, MetricKind)];

/// `SHOW GLOBAL STATUS`, always collected.
pub const STATUS: Table = &[
    (
        "Prepared_stmt_count",
        "mysql.performance.prepared_stmt_count",
        Gauge,
    ),
    ("Slow_queries", "mysql.performance.slow_queries", Rate),
    ("Questions", "mysql.performance.questions", Rate),
    ("Queries", "mysql.performance.queries", Rate),
    ("Com_select", "mysql.performance.com_select", Rate),
    ("Com_insert", "mysql.performance.com_insert", Rate),
    ("Com_update", "mysql.performance.com_update", Rate),
    ("Com_delete", "mysql.performance.com_delete", Rate),
    ("Com_replace", "mysql.performance.com_replace", Rate),
    ("Com_load", "mysql.performance.com_load", Rate),
    (
        "Com_insert_select",
        "mysql.performance.com_insert_select",
        Rate,
    ),
    (
        "Com_update_multi",
        "mysql.performance.com_update_multi",
        Rate,
    ),
    (
        "Com_delete_multi",
        "mysql.performance.com_delete_multi",
        Rate,
    ),
    (
        "Com_replace_select",
        "mysql.performance.com_replace_select",
        Rate,
    ),
    ("Connections", "mysql.net.connections", Rate),
    ("Max_used_connections", "mysql.net.max_connections", Gauge),
    ("Aborted_clients", "mysql.net.aborted_clients", Rate),
    ("Aborted_connects", "mysql.net.aborted_connects", Rate),
    ("Open_files", "mysql.performance.open_files", Gauge),
    ("Open_tables", "mysql.performance.open_tables", Gauge),
    ("Bytes_sent", "mysql.performance.bytes_sent", Rate),
    ("Bytes_received", "mysql.performance.bytes_received", Rate),
    ("Qcache_hits", "mysql.performance.qcache_hits", Rate),
    ("Qcache_inserts", "mysql.performance.qcache_inserts", Rate),
    (
        "Qcache_lowmem_prunes",
        "mysql.performance.qcache_lowmem_prunes",
        Rate,
    ),
    (
        "Table_locks_waited",
        "mysql.performance.table_locks_waited",
        Gauge,
    ),
    (
        "Table_locks_waited",
        "mysql.performance.table_locks_waited.rate",
        Rate,
    ),
    (
        "Created_tmp_tables",
        "mysql.performance.created_tmp_tables",
        Rate,
    ),
    (
        "Created_tmp_disk_tables",
        "mysql.performance.created_tmp_disk_tables",
        Rate,
    ),
    (
        "Created_tmp_files",
        "mysql.performance.created_tmp_files",
        Rate,
    ),
    (
        "Threads_connected",
        "mysql.performance.threads_connected",
        Gauge,
    ),
    (
        "Threads_running",
        "mysql.performance.threads_running",
        Gauge,
    ),
    (
        "Key_buffer_bytes_unflushed",
        "mysql.myisam.key_buffer_bytes_unflushed",
        Gauge,
    ),
    (
        "Key_buffer_bytes_used",
        "mysql.myisam.key_buffer_bytes_used",
        Gauge,
    ),
    ("Key_read_requests", "mysql.myisam.key_read_requests", Rate),
    ("Key_reads", "mysql.myisam.key_reads", Rate),
    (
        "Key_write_requests",
        "mysql.myisam.key_write_requests",
        Rate,
    ),
    ("Key_writes", "mysql.myisam.key_writes", Rate),
];

/// `SHOW GLOBAL VARIABLES` and what is derived from them, always collected.
pub const VARIABLES: Table = &[
    ("key_buffer_size", "mysql.myisam.key_buffer_size", Gauge),
    (
        "Key_cache_utilization",
        "mysql.performance.key_cache_utilization",
        Gauge,
    ),
    (
        "max_connections",
        "mysql.net.max_connections_available",
        Gauge,
    ),
    (
        "max_prepared_stmt_count",
        "mysql.performance.max_prepared_stmt_count",
        Gauge,
    ),
    ("query_cache_size", "mysql.performance.qcache_size", Gauge),
    (
        "table_open_cache",
        "mysql.performance.table_open_cache",
        Gauge,
    ),
    (
        "thread_cache_size",
        "mysql.performance.thread_cache_size",
        Gauge,
    ),
];

/// InnoDB, collected unless `disable_innodb_metrics`.
pub const INNODB: Table = &[
    ("Innodb_data_reads", "mysql.innodb.data_reads", Rate),
    ("Innodb_data_writes", "mysql.innodb.data_writes", Rate),
    ("Innodb_os_log_fsyncs", "mysql.innodb.os_log_fsyncs", Rate),
    (
        "Innodb_mutex_spin_waits",
        "mysql.innodb.mutex_spin_waits",
        Rate,
    ),
    (
        "Innodb_mutex_spin_rounds",
        "mysql.innodb.mutex_spin_rounds",
        Rate,
    ),
    ("Innodb_mutex_os_waits", "mysql.innodb.mutex_os_waits", Rate),
    ("Innodb_row_lock_waits", "mysql.innodb.row_lock_waits", Rate),
    ("Innodb_row_lock_time", "mysql.innodb.row_lock_time", Rate),
    (
        "Innodb_row_lock_current_waits",
        "mysql.innodb.row_lock_current_waits",
        Gauge,
    ),
    (
        "Innodb_current_row_locks",
        "mysql.innodb.current_row_locks",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_bytes_dirty",
        "mysql.innodb.buffer_pool_dirty",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_bytes_free",
        "mysql.innodb.buffer_pool_free",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_bytes_used",
        "mysql.innodb.buffer_pool_used",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_bytes_total",
        "mysql.innodb.buffer_pool_total",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_read_requests",
        "mysql.innodb.buffer_pool_read_requests",
        Rate,
    ),
    (
        "Innodb_buffer_pool_reads",
        "mysql.innodb.buffer_pool_reads",
        Rate,
    ),
    (
        "Innodb_buffer_pool_pages_utilization",
        "mysql.innodb.buffer_pool_utilization",
        Gauge,
    ),
];

/// `extra_status_metrics`.
pub const EXTRA_STATUS: Table = &[
    (
        "Binlog_cache_disk_use",
        "mysql.binlog.cache_disk_use",
        Gauge,
    ),
    ("Binlog_cache_use", "mysql.binlog.cache_use", Gauge),
    ("Handler_commit", "mysql.performance.handler_commit", Rate),
    ("Handler_delete", "mysql.performance.handler_delete", Rate),
    ("Handler_prepare", "mysql.performance.handler_prepare", Rate),
    (
        "Handler_read_first",
        "mysql.performance.handler_read_first",
        Rate,
    ),
    (
        "Handler_read_key",
        "mysql.performance.handler_read_key",
        Rate,
    ),
    (
        "Handler_read_next",
        "mysql.performance.handler_read_next",
        Rate,
    ),
    (
        "Handler_read_prev",
        "mysql.performance.handler_read_prev",
        Rate,
    ),
    (
        "Handler_read_rnd",
        "mysql.performance.handler_read_rnd",
        Rate,
    ),
    (
        "Handler_read_rnd_next",
        "mysql.performance.handler_read_rnd_next",
        Rate,
    ),
    (
        "Handler_rollback",
        "mysql.performance.handler_rollback",
        Rate,
    ),
    ("Handler_update", "mysql.performance.handler_update", Rate),
    ("Handler_write", "mysql.performance.handler_write", Rate),
    ("Opened_tables", "mysql.performance.opened_tables", Rate),
    (
        "Qcache_total_blocks",
        "mysql.performance.qcache_total_blocks",
        Gauge,
    ),
    (
        "Qcache_free_blocks",
        "mysql.performance.qcache_free_blocks",
        Gauge,
    ),
    (
        "Qcache_free_memory",
        "mysql.performance.qcache_free_memory",
        Gauge,
    ),
    (
        "Qcache_not_cached",
        "mysql.performance.qcache_not_cached",
        Rate,
    ),
    (
        "Qcache_queries_in_cache",
        "mysql.performance.qcache_queries_in_cache",
        Gauge,
    ),
    (
        "Select_full_join",
        "mysql.performance.select_full_join",
        Rate,
    ),
    (
        "Select_full_range_join",
        "mysql.performance.select_full_range_join",
        Rate,
    ),
    ("Select_range", "mysql.performance.select_range", Rate),
    (
        "Select_range_check",
        "mysql.performance.select_range_check",
        Rate,
    ),
    ("Select_scan", "mysql.performance.select_scan", Rate),
    (
        "Sort_merge_passes",
        "mysql.performance.sort_merge_passes",
        Rate,
    ),
    ("Sort_range", "mysql.performance.sort_range", Rate),
    ("Sort_rows", "mysql.performance.sort_rows", Rate),
    ("Sort_scan", "mysql.performance.sort_scan", Rate),
    (
        "Table_locks_immediate",
        "mysql.performance.table_locks_immediate",
        Gauge,
    ),
    (
        "Table_locks_immediate",
        "mysql.performance.table_locks_immediate.rate",
        Rate,
    ),
    ("Threads_cached", "mysql.performance.threads_cached", Gauge),
    (
        "Threads_created",
        "mysql.performance.threads_created",
        Monotonic,
    ),
    // MySQL 5.6.6+ and MariaDB 10.0+.
    (
        "Table_open_cache_hits",
        "mysql.performance.table_cache_hits",
        Rate,
    ),
    (
        "Table_open_cache_misses",
        "mysql.performance.table_cache_misses",
        Rate,
    ),
];

/// `extra_innodb_metrics`: status variables, or the same names parsed from the InnoDB status.
pub const EXTRA_INNODB: Table = &[
    (
        "Innodb_active_transactions",
        "mysql.innodb.active_transactions",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_bytes_data",
        "mysql.innodb.buffer_pool_data",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_pages_data",
        "mysql.innodb.buffer_pool_pages_data",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_pages_dirty",
        "mysql.innodb.buffer_pool_pages_dirty",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_pages_flushed",
        "mysql.innodb.buffer_pool_pages_flushed",
        Rate,
    ),
    (
        "Innodb_buffer_pool_pages_free",
        "mysql.innodb.buffer_pool_pages_free",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_pages_total",
        "mysql.innodb.buffer_pool_pages_total",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_read_ahead",
        "mysql.innodb.buffer_pool_read_ahead",
        Rate,
    ),
    (
        "Innodb_buffer_pool_read_ahead_evicted",
        "mysql.innodb.buffer_pool_read_ahead_evicted",
        Rate,
    ),
    (
        "Innodb_buffer_pool_read_ahead_rnd",
        "mysql.innodb.buffer_pool_read_ahead_rnd",
        Gauge,
    ),
    (
        "Innodb_buffer_pool_wait_free",
        "mysql.innodb.buffer_pool_wait_free",
        Monotonic,
    ),
    (
        "Innodb_buffer_pool_write_requests",
        "mysql.innodb.buffer_pool_write_requests",
        Rate,
    ),
    (
        "Innodb_checkpoint_age",
        "mysql.innodb.checkpoint_age",
        Gauge,
    ),
    (
        "Innodb_current_transactions",
        "mysql.innodb.current_transactions",
        Gauge,
    ),
    ("Innodb_data_fsyncs", "mysql.innodb.data_fsyncs", Rate),
    (
        "Innodb_data_pending_fsyncs",
        "mysql.innodb.data_pending_fsyncs",
        Gauge,
    ),
    (
        "Innodb_data_pending_reads",
        "mysql.innodb.data_pending_reads",
        Gauge,
    ),
    (
        "Innodb_data_pending_writes",
        "mysql.innodb.data_pending_writes",
        Gauge,
    ),
    ("Innodb_data_read", "mysql.innodb.data_read", Rate),
    ("Innodb_data_written", "mysql.innodb.data_written", Rate),
    (
        "Innodb_dblwr_pages_written",
        "mysql.innodb.dblwr_pages_written",
        Rate,
    ),
    ("Innodb_dblwr_writes", "mysql.innodb.dblwr_writes", Rate),
    (
        "Innodb_hash_index_cells_total",
        "mysql.innodb.hash_index_cells_total",
        Gauge,
    ),
    (
        "Innodb_hash_index_cells_used",
        "mysql.innodb.hash_index_cells_used",
        Gauge,
    ),
    (
        "Innodb_history_list_length",
        "mysql.innodb.history_list_length",
        Gauge,
    ),
    (
        "Innodb_ibuf_free_list",
        "mysql.innodb.ibuf_free_list",
        Gauge,
    ),
    ("Innodb_ibuf_merged", "mysql.innodb.ibuf_merged", Rate),
    (
        "Innodb_ibuf_merged_delete_marks",
        "mysql.innodb.ibuf_merged_delete_marks",
        Rate,
    ),
    (
        "Innodb_ibuf_merged_deletes",
        "mysql.innodb.ibuf_merged_deletes",
        Rate,
    ),
    (
        "Innodb_ibuf_merged_inserts",
        "mysql.innodb.ibuf_merged_inserts",
        Rate,
    ),
    ("Innodb_ibuf_merges", "mysql.innodb.ibuf_merges", Rate),
    (
        "Innodb_ibuf_segment_size",
        "mysql.innodb.ibuf_segment_size",
        Gauge,
    ),
    ("Innodb_ibuf_size", "mysql.innodb.ibuf_size", Gauge),
    ("Innodb_lock_structs", "mysql.innodb.lock_structs", Gauge),
    ("Innodb_locked_tables", "mysql.innodb.locked_tables", Gauge),
    (
        "Innodb_locked_transactions",
        "mysql.innodb.locked_transactions",
        Gauge,
    ),
    ("Innodb_log_waits", "mysql.innodb.log_waits", Rate),
    (
        "Innodb_log_write_requests",
        "mysql.innodb.log_write_requests",
        Rate,
    ),
    ("Innodb_log_writes", "mysql.innodb.log_writes", Rate),
    ("Innodb_lsn_current", "mysql.innodb.lsn_current", Rate),
    ("Innodb_lsn_flushed", "mysql.innodb.lsn_flushed", Rate),
    (
        "Innodb_lsn_last_checkpoint",
        "mysql.innodb.lsn_last_checkpoint",
        Rate,
    ),
    (
        "Innodb_mem_adaptive_hash",
        "mysql.innodb.mem_adaptive_hash",
        Gauge,
    ),
    (
        "Innodb_mem_additional_pool",
        "mysql.innodb.mem_additional_pool",
        Gauge,
    ),
    (
        "Innodb_mem_dictionary",
        "mysql.innodb.mem_dictionary",
        Gauge,
    ),
    (
        "Innodb_mem_file_system",
        "mysql.innodb.mem_file_system",
        Gauge,
    ),
    (
        "Innodb_mem_lock_system",
        "mysql.innodb.mem_lock_system",
        Gauge,
    ),
    ("Innodb_mem_page_hash", "mysql.innodb.mem_page_hash", Gauge),
    (
        "Innodb_mem_recovery_system",
        "mysql.innodb.mem_recovery_system",
        Gauge,
    ),
    (
        "Innodb_mem_thread_hash",
        "mysql.innodb.mem_thread_hash",
        Gauge,
    ),
    ("Innodb_mem_total", "mysql.innodb.mem_total", Gauge),
    ("Innodb_os_file_fsyncs", "mysql.innodb.os_file_fsyncs", Rate),
    ("Innodb_os_file_reads", "mysql.innodb.os_file_reads", Rate),
    ("Innodb_os_file_writes", "mysql.innodb.os_file_writes", Rate),
    (
        "Innodb_os_log_pending_fsyncs",
        "mysql.innodb.os_log_pending_fsyncs",
        Gauge,
    ),
    (
        "Innodb_os_log_pending_writes",
        "mysql.innodb.os_log_pending_writes",
        Gauge,
    ),
    ("Innodb_os_log_written", "mysql.innodb.os_log_written", Rate),
    ("Innodb_pages_created", "mysql.innodb.pages_created", Rate),
    ("Innodb_pages_read", "mysql.innodb.pages_read", Rate),
    ("Innodb_pages_written", "mysql.innodb.pages_written", Rate),
    (
        "Innodb_pending_aio_log_ios",
        "mysql.innodb.pending_aio_log_ios",
        Gauge,
    ),
    (
        "Innodb_pending_aio_sync_ios",
        "mysql.innodb.pending_aio_sync_ios",
        Gauge,
    ),
    (
        "Innodb_pending_buffer_pool_flushes",
        "mysql.innodb.pending_buffer_pool_flushes",
        Gauge,
    ),
    (
        "Innodb_pending_checkpoint_writes",
        "mysql.innodb.pending_checkpoint_writes",
        Gauge,
    ),
    (
        "Innodb_pending_ibuf_aio_reads",
        "mysql.innodb.pending_ibuf_aio_reads",
        Gauge,
    ),
    (
        "Innodb_pending_log_flushes",
        "mysql.innodb.pending_log_flushes",
        Gauge,
    ),
    (
        "Innodb_pending_log_writes",
        "mysql.innodb.pending_log_writes",
        Gauge,
    ),
    (
        "Innodb_pending_normal_aio_reads",
        "mysql.innodb.pending_normal_aio_reads",
        Gauge,
    ),
    (
        "Innodb_pending_normal_aio_writes",
        "mysql.innodb.pending_normal_aio_writes",
        Gauge,
    ),
    (
        "Innodb_queries_inside",
        "mysql.innodb.queries_inside",
        Gauge,
    ),
    (
        "Innodb_queries_queued",
        "mysql.innodb.queries_queued",
        Gauge,
    ),
    ("Innodb_read_views", "mysql.innodb.read_views", Gauge),
    ("Innodb_rows_deleted", "mysql.innodb.rows_deleted", Rate),
    ("Innodb_rows_inserted", "mysql.innodb.rows_inserted", Rate),
    ("Innodb_rows_read", "mysql.innodb.rows_read", Rate),
    ("Innodb_rows_updated", "mysql.innodb.rows_updated", Rate),
    (
        "Innodb_s_lock_os_waits",
        "mysql.innodb.s_lock_os_waits",
        Rate,
    ),
    (
        "Innodb_s_lock_spin_rounds",
        "mysql.innodb.s_lock_spin_rounds",
        Rate,
    ),
    (
        "Innodb_s_lock_spin_waits",
        "mysql.innodb.s_lock_spin_waits",
        Rate,
    ),
    (
        "Innodb_semaphore_wait_time",
        "mysql.innodb.semaphore_wait_time",
        Gauge,
    ),
    (
        "Innodb_semaphore_waits",
        "mysql.innodb.semaphore_waits",
        Gauge,
    ),
    ("Innodb_tables_in_use", "mysql.innodb.tables_in_use", Gauge),
    (
        "Innodb_x_lock_os_waits",
        "mysql.innodb.x_lock_os_waits",
        Rate,
    ),
    (
        "Innodb_x_lock_spin_rounds",
        "mysql.innodb.x_lock_spin_rounds",
        Rate,
    ),
    (
        "Innodb_x_lock_spin_waits",
        "mysql.innodb.x_lock_spin_waits",
        Rate,
    ),
];

/// `galera_cluster`.
pub const GALERA: Table = &[
    (
        "wsrep_cluster_size",
        "mysql.galera.wsrep_cluster_size",
        Gauge,
    ),
    (
        "wsrep_local_recv_queue_avg",
        "mysql.galera.wsrep_local_recv_queue_avg",
        Gauge,
    ),
    (
        "wsrep_flow_control_paused",
        "mysql.galera.wsrep_flow_control_paused",
        Gauge,
    ),
    (
        "wsrep_flow_control_paused_ns",
        "mysql.galera.wsrep_flow_control_paused_ns",
        Monotonic,
    ),
    (
        "wsrep_flow_control_recv",
        "mysql.galera.wsrep_flow_control_recv",
        Monotonic,
    ),
    (
        "wsrep_flow_control_sent",
        "mysql.galera.wsrep_flow_control_sent",
        Monotonic,
    ),
    (
        "wsrep_cert_deps_distance",
        "mysql.galera.wsrep_cert_deps_distance",
        Gauge,
    ),
    (
        "wsrep_local_send_queue_avg",
        "mysql.galera.wsrep_local_send_queue_avg",
        Gauge,
    ),
    (
        "wsrep_replicated_bytes",
        "mysql.galera.wsrep_replicated_bytes",
        Gauge,
    ),
    (
        "wsrep_received_bytes",
        "mysql.galera.wsrep_received_bytes",
        Gauge,
    ),
    ("wsrep_received", "mysql.galera.wsrep_received", Gauge),
    ("wsrep_local_state", "mysql.galera.wsrep_local_state", Gauge),
    (
        "wsrep_local_cert_failures",
        "mysql.galera.wsrep_local_cert_failures",
        Monotonic,
    ),
];

/// `SHOW GLOBAL STATUS` of performance_schema itself, collected when it is on.
pub const PERFORMANCE_SCHEMA: Table = &[(
    "Performance_schema_digest_lost",
    "mysql.performance.performance_schema_digest_lost",
    Gauge,
)];

/// Query-cache utilisation, computed by the check.
pub const SYNTHETIC: Table = &[
    (
        "Qcache_utilization",
        "mysql.performance.qcache.utilization",
        Gauge,
    ),
    (
        "Qcache_instant_utilization",
        "mysql.performance.qcache.utilization.instant",
        Gauge,
    ),
];
