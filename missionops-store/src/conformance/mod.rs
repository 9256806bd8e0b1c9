//! The backend conformance suite: one set of behaviours every storage backend must show,
//! written once and run unchanged against each (memory, SQLite, Postgres).
//!
//! # Harness
//! Every shared suite has one shape: the backend's test target defines
//! `async fn fresh() -> (Arc<dyn Store>, Guard)`, an empty store and whatever must outlive it
//! (a temporary directory; nothing for a Postgres scratch database, which its store drops), and
//! expands [`conformance_tests!`](crate::conformance_tests) over it:
//!
//! ```text
//! async fn fresh() -> (Arc<dyn Store>, Guard) {
//!     (Arc::new(MemoryStore::new()), Box::new(()))
//! }
//! missionops_store::conformance_tests!(fresh);
//! ```
//!
//! Each case gets a store of its own and panics with a message saying what the backend got
//! wrong. The outbox suite (`tests/support/outbox_suite.rs`) has the same shape and uses
//! [`Guard`] from here.
//!
//! # Layout
//! - one file of cases per repository: `spacecraft`, `config`, `packets`, `telemetry_writes`,
//!   `telemetry_reads`, `anomalies`, `alarms`, `documents`, `events`, `keys`;
//! - `tenants`: tenant isolation across every repository, run by
//!   [`tenancy_conformance_tests!`](crate::tenancy_conformance_tests) on the backends that keep
//!   tenants apart;
//! - `fixtures`: the values every harness builds its data from, the backends' own test files
//!   included;
//! - `backends`: fresh SQLite and Postgres stores for the test targets;
//! - `recording`: a store that records the telemetry writes it is given, for the tests of the
//!   services above a store.

pub mod alarms;
pub mod anomalies;
pub mod backends;
pub mod config;
pub mod documents;
pub mod events;
pub mod fixtures;
pub mod intercept;
pub mod keys;
pub mod packets;
pub mod recording;
pub mod spacecraft;
pub mod telemetry_reads;
pub mod telemetry_writes;
pub mod tenants;

/// What a fresh store needs kept alive until its case ends (dropped after the store).
pub type Guard = Box<dyn std::any::Any + Send>;

/// Generates one `#[tokio::test]` per conformance case, each on the store that `$fresh()` makes
/// (a path to an `async fn() -> (Arc<dyn Store>, Guard)`). The calling crate needs `tokio` with
/// the `macros` and `rt` features as a dev-dependency.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@cases $fresh;
            spacecraft::spacecraft_are_registered_and_read_back,
            spacecraft::registering_an_existing_id_conflicts_and_writes_nothing,
            spacecraft::spacecraft_are_listed_in_registration_order_with_a_total,
            spacecraft::the_existing_spacecraft_among_ids_are_those_registered_in_the_tenant,
            config::config_versions_are_kept_as_history,
            config::a_config_with_a_stale_version_conflicts_and_writes_nothing,
            config::a_config_for_an_unknown_spacecraft_is_not_found,
            packets::packet_definitions_are_kept_as_history,
            packets::current_configs_and_packet_versions_are_read_for_a_list,
            packets::a_packet_definition_with_a_stale_version_conflicts_and_writes_nothing,
            packets::a_packet_definition_for_an_unknown_spacecraft_is_not_found,
            telemetry_reads::recent_telemetry_is_newest_first_and_ranges_oldest_first,
            telemetry_reads::parameters_round_trip_in_order_with_their_types,
            telemetry_writes::the_same_snapshot_twice_is_stored_once,
            telemetry_writes::a_conflicting_snapshot_rejects_the_whole_batch,
            telemetry_writes::a_group_of_writes_is_stored_in_order_each_with_its_outcome,
            telemetry_writes::a_failed_write_of_a_group_fails_alone_and_stops_the_group,
            telemetry_writes::telemetry_for_an_unknown_spacecraft_is_rejected,
            telemetry_writes::telemetry_writes_carry_their_anomalies_and_events,
            telemetry_reads::the_last_telemetry_timestamp_is_the_newest_sample,
            anomalies::anomalies_are_unique_and_announced_once,
            anomalies::anomalies_are_queried_by_time,
            anomalies::anomaly_counts_and_last_times_are_read_for_a_list,
            documents::documents_are_published_updated_and_versioned,
            documents::document_search_is_case_insensitive_ranked_and_matches_tags,
            documents::documents_are_listed_with_filters_newest_first,
            events::event_sequences_are_gap_free_and_increasing,
            events::events_are_listed_per_spacecraft_and_resumed_after_a_sequence,
            events::configuration_changes_are_read_alone_paged_and_per_tenant,
            events::the_last_contact_loss_is_read_for_a_list,
            alarms::alarms_are_saved_replaced_and_filtered,
            alarms::open_alarms_are_read_for_a_list,
            alarms::open_alarms_are_summed_up_per_spacecraft,
            alarms::alarms_are_read_by_pages_after_a_cursor,
            spacecraft::every_spacecraft_is_read_at_once_in_registration_order,
            telemetry_reads::recent_telemetry_is_read_for_a_list,
            telemetry_reads::latest_values_are_the_newest_sample_of_each_parameter,
            telemetry_writes::a_rejected_batch_names_its_first_bad_snapshot,
            telemetry_reads::series_are_downsampled_into_epoch_aligned_buckets,
            events::a_change_whose_event_cannot_be_recorded_is_not_stored,
            telemetry_writes::a_group_of_many_spacecraft_fails_only_the_conflicting_write,
            telemetry_writes::registrations_with_telemetry_register_each_spacecraft_once,
            telemetry_writes::a_group_of_new_spacecraft_registers_each_once_with_its_outbox_row,
            telemetry_writes::registrations_in_a_group_are_announced_in_the_order_of_the_writes,
            telemetry_writes::a_group_of_decisions_without_snapshots_stores_every_alarm_and_event,
            telemetry_writes::alarms_written_with_telemetry_keep_the_last_copy_and_every_field,
            telemetry_reads::ranges_are_read_by_pages_after_a_cursor,
            anomalies::anomaly_timelines_are_read_by_pages_after_a_cursor,
            keys::keys_are_created_read_back_and_unique,
            keys::keys_are_listed_per_tenant_oldest_first,
            keys::keys_are_revoked_within_their_tenant,
            keys::key_uses_are_recorded_in_bulk_latest_first,
        );
    };
    (@cases $fresh:path; $($module:ident :: $case:ident),* $(,)?) => {
        $crate::conformance_cases!($fresh; $($module :: $case),*);
        $crate::conformance_cases!(@shared $fresh;
            telemetry_reads::ranges_are_read_as_a_stream_of_pages,
            telemetry_reads::range_pages_say_whether_the_range_holds_more_than_the_cap,
            telemetry_reads::range_pages_read_back_exact_values,
        );
    };
}

/// Generates one `#[tokio::test]` per tenant isolation case (`conformance::tenants`), each on the
/// store that `$fresh()` makes, as [`conformance_tests!`](crate::conformance_tests) does. A
/// backend that keeps tenants apart expands it beside `conformance_tests!`; every backend does
/// (memory, SQLite, PostgreSQL) except where its test target says why not.
#[macro_export]
macro_rules! tenancy_conformance_tests {
    ($fresh:path) => {
        $crate::conformance_cases!($fresh;
            tenants::spacecraft_and_configs_are_kept_per_tenant,
            tenants::telemetry_is_kept_per_tenant,
            tenants::a_group_of_two_tenants_keeps_each_write_in_its_tenant,
            tenants::anomalies_alarms_and_events_are_kept_per_tenant,
            tenants::documents_are_kept_per_tenant,
            tenants::outbox_entries_carry_their_tenant_and_hold_back_only_its_spacecraft,
        );
    };
}

/// One `#[tokio::test]` per named case of `conformance`, on the store `$fresh()` makes (the
/// expansion shared by the macros above).
#[doc(hidden)]
#[macro_export]
macro_rules! conformance_cases {
    // Cases that hand the store on (`&Arc<dyn Store>`), as a method taking `self: Arc<Self>` needs.
    (@shared $fresh:path; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                $crate::conformance::$module::$case(&store).await;
            }
        )*
    };
    ($fresh:path; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                $crate::conformance::$module::$case(&*store).await;
            }
        )*
    };
}
