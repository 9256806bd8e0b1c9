//! The four demo spacecraft of the TypeScript service: their limits and how each parameter
//! behaves in the simulation.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::SpacecraftConfig;
use crate::error::{Error, Result};

/// One of the four demo spacecraft, with the TypeScript service's names, parameters and limits.
///
/// Serialized, displayed and parsed as its mission type (`LEO_IMAGING`, `GNSS`, `GEO_COMMS`,
/// `CUBESAT`), which is also the profile's name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DemoProfile {
    /// `LEO_IMAGING`: `Sat-Imager-001`, an Earth-imaging satellite in low Earth orbit.
    LeoImaging,
    /// `GNSS`: `GNSS-Nav-Alpha`, a navigation satellite.
    Gnss,
    /// `GEO_COMMS`: `GEO-Comms-01`, a geostationary communications satellite.
    GeoComms,
    /// `CUBESAT`: `Cube-001`, a 3U CubeSat.
    Cubesat,
}

/// How a simulated parameter moves from one sample to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Behaviour {
    /// A number on a random walk that is pulled back toward `nominal` and kept within
    /// `min..=max`, which lie inside the warning limits: only spikes cross a limit.
    Walk {
        /// The value the walk starts at and returns to.
        nominal: f64,
        /// The largest move per sample (a uniform step in `-step..=step`).
        step: f64,
        /// The lowest value the walk takes.
        min: f64,
        /// The highest value the walk takes.
        max: f64,
        /// How many decimals the value is rounded to (0 gives integers).
        decimals: u8,
    },
    /// A count that only goes up: `0..=max_increment` per sample, and only while the profile's
    /// mode parameter reads `active_mode` (every sample when `None`).
    Counter {
        /// The first value.
        initial: u32,
        /// The largest increase per sample.
        max_increment: u32,
        /// The mode in which the count moves.
        active_mode: Option<&'static str>,
    },
    /// A mode string. It starts in `modes[0]` (the nominal mode), leaves it for one of the others
    /// with probability `leave_nominal` per sample, and returns with probability
    /// `return_to_nominal` per sample.
    Mode {
        /// The possible values, nominal first.
        modes: &'static [&'static str],
        /// The chance per sample of leaving the nominal mode.
        leave_nominal: f64,
        /// The chance per sample of returning to it.
        return_to_nominal: f64,
    },
}

/// How one parameter of a demo profile is simulated and documented.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ParameterModel {
    /// The parameter name, as in the limits configuration (`battery_soc`).
    pub name: &'static str,
    /// The unit, for the telemetry definitions (`%`, `V`, `°C`; empty when it has none).
    pub unit: &'static str,
    /// What it measures, for the telemetry definitions.
    pub description: &'static str,
    /// How it moves.
    pub behaviour: Behaviour,
}

/// A shorthand for the catalogue below.
const fn walk(
    name: &'static str,
    unit: &'static str,
    (nominal, step, min, max, decimals): (f64, f64, f64, f64, u8),
    description: &'static str,
) -> ParameterModel {
    ParameterModel {
        name,
        unit,
        description,
        behaviour: Behaviour::Walk {
            nominal,
            step,
            min,
            max,
            decimals,
        },
    }
}

// The catalogue, one parameter a line: name, unit, (nominal, largest step per sample, walk
// minimum, walk maximum, decimals), description. The walks' bounds sit inside the warning
// limits of `DemoProfile::config` (a test checks it), so that every limit crossing in the demo
// data is a deliberate spike.

#[rustfmt::skip]
const LEO_IMAGING: &[ParameterModel] = &[
    walk("battery_soc", "%", (78.0, 0.6, 40.0, 100.0, 1), "Battery state of charge"),
    walk("battery_temp", "°C", (18.0, 0.4, 5.0, 30.0, 1), "Battery pack temperature"),
    walk("bus_voltage", "V", (28.2, 0.1, 26.0, 31.0, 2), "Main power bus voltage"),
    walk("solar_array_current", "A", (3.2, 0.1, 1.5, 5.0, 2), "Solar array output current"),
    walk("panel_temp", "°C", (35.0, 0.8, 10.0, 52.0, 1), "Solar panel temperature"),
    walk("payload_temp", "°C", (22.0, 0.5, 10.0, 42.0, 1), "Imager focal plane temperature"),
    walk("attitude_error_deg", "deg", (0.3, 0.05, 0.0, 1.2, 3), "Attitude pointing error"),
    walk("rw1_speed_rpm", "rpm", (2500.0, 60.0, 1000.0, 4800.0, 0), "Reaction wheel 1 speed"),
    walk("rw2_speed_rpm", "rpm", (2300.0, 60.0, 1000.0, 4800.0, 0), "Reaction wheel 2 speed"),
    ParameterModel {
        name: "images_captured",
        unit: "",
        description: "Images captured since the start of the simulated run",
        behaviour: Behaviour::Counter {
            initial: 0,
            max_increment: 4,
            active_mode: Some("IMAGING"),
        },
    },
    ParameterModel {
        name: "imaging_mode",
        unit: "",
        description: "Payload mode",
        behaviour: Behaviour::Mode {
            modes: &["STANDBY", "IMAGING", "DOWNLINK", "CALIBRATION"],
            leave_nominal: 0.08,
            return_to_nominal: 0.12,
        },
    },
];

#[rustfmt::skip]
const GNSS: &[ParameterModel] = &[
    walk("battery_soc", "%", (85.0, 0.4, 50.0, 100.0, 1), "Battery state of charge"),
    walk("bus_voltage", "V", (28.0, 0.1, 26.0, 31.0, 2), "Main power bus voltage"),
    walk("clock_drift_ppb", "ppb", (8.0, 1.5, 0.0, 35.0, 2), "Clock frequency drift, magnitude"),
    walk("clock_bias_ns", "ns", (10.0, 2.0, 0.0, 35.0, 1), "Clock bias against system time"),
    walk("nav_signal_power_dbm", "dBm", (-128.0, 0.5, -136.0, -122.0, 1), "Nav signal power"),
    walk("nav_snr_db", "dB", (42.0, 0.8, 28.0, 50.0, 1), "Navigation signal-to-noise ratio"),
];

#[rustfmt::skip]
const GEO_COMMS: &[ParameterModel] = &[
    walk("battery_soc", "%", (92.0, 0.3, 60.0, 100.0, 1), "Battery state of charge"),
    walk("bus_voltage", "V", (100.0, 0.4, 95.0, 108.0, 2), "Main power bus voltage (100 V bus)"),
    walk("payload_power_w", "W", (1500.0, 25.0, 1100.0, 1850.0, 0), "Payload power draw"),
    walk("transponder_load_pct", "%", (60.0, 2.0, 30.0, 80.0, 1), "Transponder capacity in use"),
    walk("uplink_snr_db", "dB", (16.0, 0.4, 11.0, 22.0, 1), "Uplink signal-to-noise ratio"),
    walk("downlink_snr_db", "dB", (14.0, 0.4, 10.0, 20.0, 1), "Downlink signal-to-noise ratio"),
    walk("bus_temp", "°C", (30.0, 0.4, 15.0, 48.0, 1), "Service module temperature"),
    walk("payload_temp", "°C", (40.0, 0.5, 25.0, 55.0, 1), "Payload panel temperature"),
];

#[rustfmt::skip]
const CUBESAT: &[ParameterModel] = &[
    walk("battery_soc", "%", (70.0, 0.6, 45.0, 100.0, 1), "Battery state of charge"),
    walk("bus_voltage", "V", (7.6, 0.03, 7.0, 8.4, 2), "Battery bus voltage (2S pack)"),
    walk("attitude_error_deg", "deg", (1.5, 0.2, 0.0, 4.0, 2), "Attitude pointing error"),
    walk("magnetorquer_current_ma", "mA", (40.0, 4.0, 0.0, 100.0, 1), "Magnetorquer drive current"),
    walk("beacon_rssi_dbm", "dBm", (-95.0, 1.0, -105.0, -85.0, 1), "Beacon signal strength"),
    walk("beacon_snr_db", "dB", (12.0, 0.5, 7.0, 20.0, 1), "Beacon signal-to-noise ratio"),
    ParameterModel {
        name: "mode",
        unit: "",
        description: "Spacecraft mode",
        behaviour: Behaviour::Mode {
            modes: &["NOMINAL", "SAFE", "DETUMBLE"],
            leave_nominal: 0.01,
            return_to_nominal: 0.1,
        },
    },
];

impl DemoProfile {
    /// The four profiles, in the TypeScript service's order.
    pub const ALL: [DemoProfile; 4] = [
        DemoProfile::LeoImaging,
        DemoProfile::Gnss,
        DemoProfile::GeoComms,
        DemoProfile::Cubesat,
    ];

    /// The profile's key, which is also its spacecraft's mission type (`LEO_IMAGING`).
    pub fn as_str(self) -> &'static str {
        match self {
            DemoProfile::LeoImaging => "LEO_IMAGING",
            DemoProfile::Gnss => "GNSS",
            DemoProfile::GeoComms => "GEO_COMMS",
            DemoProfile::Cubesat => "CUBESAT",
        }
    }

    /// Parses a key such as `LEO_IMAGING` (any case, `-` for `_`), naming `profiles` in the
    /// error.
    pub fn parse(value: &str) -> Result<Self> {
        let key = value.trim().to_ascii_uppercase().replace('-', "_");
        DemoProfile::ALL
            .into_iter()
            .find(|p| p.as_str() == key)
            .ok_or_else(|| {
                Error::invalid(
                    "profiles",
                    format!(
                        "unknown demo profile {value:?}; expected LEO_IMAGING, GNSS, GEO_COMMS \
                         or CUBESAT"
                    ),
                )
            })
    }

    /// The demo spacecraft's name, which the seeder also uses as its id when it registers it
    /// (`Sat-Imager-001`).
    pub fn spacecraft_name(self) -> &'static str {
        match self {
            DemoProfile::LeoImaging => "Sat-Imager-001",
            DemoProfile::Gnss => "GNSS-Nav-Alpha",
            DemoProfile::GeoComms => "GEO-Comms-01",
            DemoProfile::Cubesat => "Cube-001",
        }
    }

    /// Every simulated parameter, in the order of the limits configuration and of the
    /// generated snapshots.
    pub fn parameters(self) -> &'static [ParameterModel] {
        match self {
            DemoProfile::LeoImaging => LEO_IMAGING,
            DemoProfile::Gnss => GNSS,
            DemoProfile::GeoComms => GEO_COMMS,
            DemoProfile::Cubesat => CUBESAT,
        }
    }

    /// The limits configuration, exactly as the TypeScript service seeded it (including the
    /// empty rules of the counters and modes, and the order of every key).
    ///
    /// Never fails for the built-in profiles (a test parses each); the `Result` is the
    /// configuration parser's.
    pub fn config(self) -> Result<SpacecraftConfig> {
        SpacecraftConfig::parse(self.config_document())
    }

    fn config_document(self) -> Value {
        match self {
            DemoProfile::LeoImaging => json!({"parameters": {
                "battery_soc": {"warnLow": 25, "critLow": 15},
                "battery_temp": {"warnHigh": 35, "critHigh": 45, "warnLow": -5, "critLow": -10},
                "bus_voltage": {"warnLow": 24, "critLow": 22, "warnHigh": 34, "critHigh": 36},
                "solar_array_current": {"warnLow": 0.5, "critLow": 0.2},
                "panel_temp": {"warnHigh": 60, "critHigh": 75},
                "payload_temp": {"warnHigh": 50, "critHigh": 65},
                "attitude_error_deg": {"warnHigh": 2, "critHigh": 5},
                "rw1_speed_rpm": {"warnHigh": 6000, "critHigh": 8000},
                "rw2_speed_rpm": {"warnHigh": 6000, "critHigh": 8000},
                "images_captured": {},
                "imaging_mode": {}
            }}),
            DemoProfile::Gnss => json!({"parameters": {
                "battery_soc": {"warnLow": 30, "critLow": 20},
                "bus_voltage": {"warnLow": 24, "critLow": 22},
                "clock_drift_ppb": {"warnHigh": 50, "critHigh": 100},
                "clock_bias_ns": {"warnHigh": 50, "critHigh": 100},
                "nav_signal_power_dbm": {"warnLow": -140, "critLow": -150},
                "nav_snr_db": {"warnLow": 20, "critLow": 10}
            }}),
            DemoProfile::GeoComms => json!({"parameters": {
                "battery_soc": {"warnLow": 30, "critLow": 20},
                "bus_voltage": {"warnLow": 90, "critLow": 85, "warnHigh": 115, "critHigh": 120},
                "payload_power_w": {"warnHigh": 2000, "critHigh": 2300},
                "transponder_load_pct": {"warnHigh": 85, "critHigh": 95},
                "uplink_snr_db": {"warnLow": 8, "critLow": 5},
                "downlink_snr_db": {"warnLow": 8, "critLow": 5},
                "bus_temp": {"warnHigh": 55, "critHigh": 70},
                "payload_temp": {"warnHigh": 60, "critHigh": 75}
            }}),
            DemoProfile::Cubesat => json!({"parameters": {
                "battery_soc": {"warnLow": 35, "critLow": 25},
                "bus_voltage": {"warnLow": 6.5, "critLow": 6},
                "attitude_error_deg": {"warnHigh": 5, "critHigh": 10},
                "magnetorquer_current_ma": {"warnHigh": 120, "critHigh": 150},
                "beacon_rssi_dbm": {"warnLow": -110, "critLow": -120},
                "beacon_snr_db": {"warnLow": 5, "critLow": 2},
                "mode": {}
            }}),
        }
    }
}

impl fmt::Display for DemoProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DemoProfile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DemoProfile::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::CompiledRules;

    #[test]
    fn every_profile_config_parses_and_names_exactly_the_simulated_parameters() {
        for profile in DemoProfile::ALL {
            let config = profile.config().unwrap();
            let rules = CompiledRules::compile(config.as_object()).unwrap();
            let configured: Vec<&str> =
                rules.rules().iter().map(|r| r.parameter.as_str()).collect();
            let simulated: Vec<&str> = profile.parameters().iter().map(|m| m.name).collect();
            assert_eq!(configured, simulated, "{profile}");
        }
    }

    #[test]
    fn every_walk_stays_strictly_inside_its_warning_limits() {
        for profile in DemoProfile::ALL {
            let config = profile.config().unwrap();
            let rules = CompiledRules::compile(config.as_object()).unwrap();
            for model in profile.parameters() {
                let Behaviour::Walk {
                    nominal,
                    step,
                    min,
                    max,
                    ..
                } = model.behaviour
                else {
                    continue;
                };
                let t = rules
                    .rules()
                    .iter()
                    .find(|r| r.parameter.as_str() == model.name)
                    .unwrap()
                    .thresholds;
                assert!(
                    min > t.warn_low && min > t.crit_low,
                    "{profile} {}",
                    model.name
                );
                assert!(
                    max < t.warn_high && max < t.crit_high,
                    "{profile} {}",
                    model.name
                );
                assert!(
                    (min..=max).contains(&nominal) && step > 0.0,
                    "{profile} {}",
                    model.name
                );
            }
        }
    }

    #[test]
    fn profiles_parse_from_their_keys_in_any_case_and_reject_others_naming_profiles() {
        for profile in DemoProfile::ALL {
            assert_eq!(DemoProfile::parse(profile.as_str()).unwrap(), profile);
            assert_eq!(profile.to_string(), profile.as_str());
        }
        assert_eq!(
            DemoProfile::parse("geo-comms").unwrap(),
            DemoProfile::GeoComms
        );
        let err = DemoProfile::parse("MARS_ROVER").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("profiles: unknown demo profile"),
            "{err}"
        );
        assert_eq!(
            serde_json::to_string(&DemoProfile::LeoImaging).unwrap(),
            "\"LEO_IMAGING\""
        );
    }

    #[test]
    fn mode_and_counter_models_are_well_formed() {
        for profile in DemoProfile::ALL {
            let modes: Vec<&ParameterModel> = profile
                .parameters()
                .iter()
                .filter(|m| matches!(m.behaviour, Behaviour::Mode { .. }))
                .collect();
            assert!(modes.len() <= 1, "{profile}: at most one mode parameter");
            for model in profile.parameters() {
                if let Behaviour::Counter {
                    active_mode: Some(active),
                    ..
                } = model.behaviour
                {
                    let Some(Behaviour::Mode { modes: values, .. }) =
                        modes.first().map(|m| m.behaviour)
                    else {
                        panic!("{profile}: a counter tied to a mode needs a mode parameter");
                    };
                    assert!(values.contains(&active), "{profile}: {active}");
                }
            }
        }
    }
}
