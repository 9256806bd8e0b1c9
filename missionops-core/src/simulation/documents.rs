//! The demo documents of each profile: procedures, telemetry definitions and a mission note.
//!
//! Limits in the bodies are read from the profile's configuration, so the documents never
//! disagree with the rules that raise the anomalies they explain.

use std::fmt::Write as _;

use super::profile::{Behaviour, DemoProfile, ParameterModel};
use crate::domain::{
    DocumentBody, DocumentCategory, DocumentTitle, NewDocument, ParameterName, SpacecraftId, Tag,
    Tags,
};
use crate::error::Result;
use crate::js_json::format_js_number;
use crate::rules::{CompiledRules, Thresholds};

/// An operating procedure: what it is for, the parameters it covers (its tags) and its steps.
struct Procedure {
    title: &'static str,
    covers: &'static [&'static str],
    purpose: &'static str,
    steps: &'static [&'static str],
}

const LOW_SOC_PURPOSE: &str = "Use when `battery_soc` or `bus_voltage` drops below its warning \
    limit. The aim is to stop the discharge before the critical limit, where the on-board \
    software would shed loads on its own.";

const LEO_PROCEDURES: &[Procedure] = &[
    Procedure {
        title: "Battery low-SOC recovery",
        covers: &["battery_soc", "bus_voltage"],
        purpose: LOW_SOC_PURPOSE,
        steps: &[
            "Check the trend of `battery_soc` and `bus_voltage` over the last orbit; a single \
             sample out of limits with normal neighbours is a sensor glitch: log it and stop here.",
            "Command `imaging_mode` to `STANDBY` and cancel the imaging plan for the next two \
             passes.",
            "Check `solar_array_current` against its nominal 3.2 A; if it is low, check the \
             attitude (`attitude_error_deg`) and the sun-pointing schedule.",
            "Switch off non-essential heaters and the payload electronics.",
            "If `battery_soc` keeps falling below the critical limit, command safe mode and call \
             the flight dynamics and power engineers.",
            "Resume imaging once `battery_soc` has been above 60 % for a full orbit.",
        ],
    },
    Procedure {
        title: "Thermal excursion response",
        covers: &["battery_temp", "panel_temp", "payload_temp"],
        purpose: "Use when a temperature crosses its warning limit.",
        steps: &[
            "Identify which zone is out of limits and whether the others follow it.",
            "For `payload_temp`, stop imaging (`imaging_mode` `STANDBY`) and let the focal \
             plane cool.",
            "For `battery_temp`, check heater status and the charge current; reduce the charge \
             rate when the battery is hot, enable the survival heater when it is cold.",
            "For `panel_temp`, check the attitude: an off-nominal sun angle heats the panels.",
            "Above a critical limit, power the affected unit off and open an anomaly report.",
        ],
    },
    Procedure {
        title: "Reaction wheel overspeed and pointing error",
        covers: &["rw1_speed_rpm", "rw2_speed_rpm", "attitude_error_deg"],
        purpose: "Use when a wheel speed or the pointing error crosses its warning limit.",
        steps: &[
            "Compare both wheel speeds: one wheel alone high points at a friction or bearing \
             problem, both high at accumulated momentum.",
            "Schedule a momentum dump with the magnetorquers at the next opportunity.",
            "Suspend imaging while `attitude_error_deg` is above its warning limit: the images \
             would be off target.",
            "Above a critical limit, command the wheel off and fly on the remaining wheels.",
        ],
    },
];

const GNSS_PROCEDURES: &[Procedure] = &[
    Procedure {
        title: "Battery low-SOC recovery",
        covers: &["battery_soc", "bus_voltage"],
        purpose: LOW_SOC_PURPOSE,
        steps: &[
            "Check the trend of `battery_soc` and `bus_voltage`; rule out a single-sample glitch.",
            "Check whether the spacecraft is in an eclipse season and how long the eclipse lasts.",
            "Switch off non-essential heaters; keep the navigation payload and clocks powered.",
            "If `battery_soc` falls below the critical limit, set the navigation message to \
             unhealthy before the payload is shed, so that receivers stop using the signal.",
        ],
    },
    Procedure {
        title: "Clock drift and bias correction",
        covers: &["clock_drift_ppb", "clock_bias_ns"],
        purpose: "Use when the on-board clock drifts or its bias grows past a warning limit.",
        steps: &[
            "Compare the on-board clock against the ground reference over the last six hours.",
            "Upload fresh clock correction parameters in the next navigation message.",
            "If the drift keeps growing, schedule a switch to the redundant clock.",
            "Above a critical limit, flag the satellite unhealthy until the clock is corrected.",
        ],
    },
    Procedure {
        title: "Navigation signal degradation",
        covers: &["nav_signal_power_dbm", "nav_snr_db"],
        purpose: "Use when the navigation signal power or its signal-to-noise ratio falls \
                  below a warning limit.",
        steps: &[
            "Check whether other monitoring stations see the same drop: a single station points \
             at local interference.",
            "Check the payload amplifier temperatures and currents.",
            "Below a critical limit, flag the signal unhealthy and switch to the redundant \
             amplifier.",
        ],
    },
];

const GEO_PROCEDURES: &[Procedure] = &[
    Procedure {
        title: "Battery low-SOC recovery",
        covers: &["battery_soc", "bus_voltage"],
        purpose: LOW_SOC_PURPOSE,
        steps: &[
            "Check the trend of `battery_soc` and `bus_voltage`; rule out a single-sample glitch.",
            "Check the eclipse schedule: at equinox seasons eclipses last up to 72 minutes.",
            "Reduce `transponder_load_pct` by moving low-priority carriers off the satellite.",
            "If `battery_soc` falls below the critical limit, switch off transponders in the \
             agreed order and inform the customers.",
        ],
    },
    Procedure {
        title: "Transponder overload load-shedding",
        covers: &["transponder_load_pct", "payload_power_w", "payload_temp"],
        purpose: "Use when the transponder load, payload power or payload temperature crosses \
                  a warning limit.",
        steps: &[
            "Identify the carriers added since the load was last nominal.",
            "Ask the network operations centre to move or throttle low-priority carriers.",
            "Watch `payload_temp` for ten minutes after shedding: it lags the power.",
            "Above a critical limit, switch off the hottest transponder.",
        ],
    },
    Procedure {
        title: "Link margin loss",
        covers: &["uplink_snr_db", "downlink_snr_db"],
        purpose: "Use when an uplink or downlink signal-to-noise ratio falls below a warning \
                  limit.",
        steps: &[
            "Check the weather at the ground station: rain fade explains most short drops.",
            "Check antenna pointing at the ground station and the spacecraft's attitude.",
            "Raise the uplink power within the licence, or switch to the diversity station.",
            "Below a critical limit, inform the customers of the affected beams.",
        ],
    },
    Procedure {
        title: "Service module over-temperature",
        covers: &["bus_temp"],
        purpose: "Use when the service module temperature crosses its warning limit.",
        steps: &[
            "Check the heater duty cycles and the sun angle for the season.",
            "Switch off non-essential heaters in the zone.",
            "Above the critical limit, reduce the payload load to cut the dissipated power.",
        ],
    },
];

const CUBESAT_PROCEDURES: &[Procedure] = &[
    Procedure {
        title: "Battery low-SOC recovery",
        covers: &["battery_soc", "bus_voltage", "mode"],
        purpose: LOW_SOC_PURPOSE,
        steps: &[
            "Check the trend of `battery_soc` and `bus_voltage` over the last passes.",
            "Command `mode` `SAFE`: it turns the payload and the radio's high-rate mode off.",
            "Check the attitude: a tumbling CubeSat charges poorly (`attitude_error_deg`).",
            "Return to `NOMINAL` once `battery_soc` has been above 60 % for two passes.",
        ],
    },
    Procedure {
        title: "Detumble and safe-mode recovery",
        covers: &["attitude_error_deg", "magnetorquer_current_ma", "mode"],
        purpose: "Use when the pointing error or the magnetorquer current crosses a warning \
                  limit, or the spacecraft reports `SAFE` or `DETUMBLE` on its own.",
        steps: &[
            "Check `mode`: the on-board software enters `DETUMBLE` when the rates are high.",
            "Let the detumble controller run; watch `magnetorquer_current_ma` stay below its \
             critical limit.",
            "Once `attitude_error_deg` is below its warning limit for a full pass, command \
             `NOMINAL`.",
            "If the magnetorquer current is above the critical limit, switch the torquer off and \
             contact the ADCS engineer.",
        ],
    },
    Procedure {
        title: "Beacon link loss",
        covers: &["beacon_rssi_dbm", "beacon_snr_db"],
        purpose: "Use when the beacon's signal strength or signal-to-noise ratio falls below a \
                  warning limit.",
        steps: &[
            "Check the ground station: antenna tracking, low-noise amplifier, local interference.",
            "Compare with the previous passes at a similar elevation.",
            "Below a critical limit, ask a partner station to listen on the next pass.",
        ],
    },
];

const LEO_NOTE: &str = "Sat-Imager-001 is an Earth-observation satellite in a sun-synchronous \
    low Earth orbit at about 550 km, with a 95-minute orbit. It images on request and downlinks \
    over polar ground stations. `imaging_mode` moves between `STANDBY`, `IMAGING`, `DOWNLINK` \
    and `CALIBRATION`; `images_captured` counts the images taken while in `IMAGING`.";
const GNSS_NOTE: &str = "GNSS-Nav-Alpha is a navigation satellite in medium Earth orbit. Its \
    product is time: the on-board clock (`clock_drift_ppb`, `clock_bias_ns`) and the broadcast \
    navigation signal (`nav_signal_power_dbm`, `nav_snr_db`) are what users depend on.";
const GEO_NOTE: &str = "GEO-Comms-01 is a geostationary communications satellite on a 100 V \
    power bus. Its transponders carry customer traffic; `transponder_load_pct` and \
    `payload_power_w` follow the traffic plan, and link quality shows in `uplink_snr_db` and \
    `downlink_snr_db`.";
const CUBESAT_NOTE: &str = "Cube-001 is a 3U CubeSat in low Earth orbit, heard through its \
    beacon (`beacon_rssi_dbm`, `beacon_snr_db`). Attitude is kept by magnetorquers alone. \
    `mode` is `NOMINAL` most of the time, `SAFE` after a power or software fault, and \
    `DETUMBLE` while the magnetorquers bring the rates down.";

impl DemoProfile {
    fn procedures(self) -> &'static [Procedure] {
        match self {
            DemoProfile::LeoImaging => LEO_PROCEDURES,
            DemoProfile::Gnss => GNSS_PROCEDURES,
            DemoProfile::GeoComms => GEO_PROCEDURES,
            DemoProfile::Cubesat => CUBESAT_PROCEDURES,
        }
    }

    fn mission_note(self) -> &'static str {
        match self {
            DemoProfile::LeoImaging => LEO_NOTE,
            DemoProfile::Gnss => GNSS_NOTE,
            DemoProfile::GeoComms => GEO_NOTE,
            DemoProfile::Cubesat => CUBESAT_NOTE,
        }
    }

    /// The demo documents of this profile for the spacecraft `spacecraft_id`, in publication
    /// order: the telemetry definitions (`telemetry_definition`, tagged with every parameter),
    /// the procedures (`procedure`, each tagged with the parameters it covers) and a mission
    /// note (`mission_note`). Titles are unique within a profile. Bodies are Markdown.
    ///
    /// Never fails for the built-in profiles (a test builds them all); the `Result` is that of
    /// the document field parsers.
    pub fn documents(self, spacecraft_id: &SpacecraftId) -> Result<Vec<NewDocument>> {
        let rules = CompiledRules::compile(self.config()?.as_object())?;
        let name = self.spacecraft_name();
        let mut documents = Vec::with_capacity(self.procedures().len() + 2);

        let all: Vec<&str> = self.parameters().iter().map(|m| m.name).collect();
        documents.push(document(
            spacecraft_id,
            &format!("{name} telemetry definitions"),
            "telemetry_definition",
            &all,
            &self.definitions_body(&rules),
        )?);
        if self == DemoProfile::LeoImaging {
            documents.push(document(
                spacecraft_id,
                &format!("{name} packet definition (XTCE)"),
                "telemetry_definition",
                &["xtce", "packets"],
                &packet_definition_body(name),
            )?);
        }
        for procedure in self.procedures() {
            documents.push(document(
                spacecraft_id,
                procedure.title,
                "procedure",
                procedure.covers,
                &self.procedure_body(procedure, &rules),
            )?);
        }
        documents.push(document(
            spacecraft_id,
            &format!("{name} mission overview"),
            "mission_note",
            &[self.as_str(), "demo"],
            &self.note_body(),
        )?);
        Ok(documents)
    }

    fn definitions_body(self, rules: &CompiledRules) -> String {
        let mut body = format!(
            "# {} telemetry definitions\n\nMission type: `{}`. Each parameter with its unit, \
             nominal value and limits. A value strictly beyond a warning limit raises a \
             `MEDIUM` anomaly; beyond a critical limit, a `HIGH` one.\n\n",
            self.spacecraft_name(),
            self.as_str()
        );
        body.push_str(
            "| Parameter | Unit | Nominal | Warn low | Crit low | Warn high | Crit high \
             | Description |\n|---|---|---|---|---|---|---|---|\n",
        );
        for model in self.parameters() {
            let t = thresholds(rules, model.name);
            let nominal = match model.behaviour {
                Behaviour::Walk { nominal, .. } => format_js_number(nominal),
                Behaviour::Counter { initial, .. } => format!("counter from {initial}"),
                Behaviour::Mode { modes, .. } => modes.first().copied().unwrap_or("—").to_owned(),
            };
            let _ = writeln!(
                body,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
                model.name,
                or_dash(model.unit),
                nominal,
                limit(t.warn_low),
                limit(t.crit_low),
                limit(t.warn_high),
                limit(t.crit_high),
                describe(model),
            );
        }
        body
    }

    fn procedure_body(self, procedure: &Procedure, rules: &CompiledRules) -> String {
        let mut body = format!(
            "# {}\n\nSpacecraft: **{}** (`{}`).\n\n{}\n\n## Limits\n\n\
             | Parameter | Warn low | Crit low | Warn high | Crit high | Unit |\n\
             |---|---|---|---|---|---|\n",
            procedure.title,
            self.spacecraft_name(),
            self.as_str(),
            procedure.purpose
        );
        let models = self.parameters();
        let mut modes = Vec::new();
        for &parameter in procedure.covers {
            let Some(model) = models.iter().find(|m| m.name == parameter) else {
                continue;
            };
            if let Behaviour::Mode { .. } = model.behaviour {
                modes.push(model);
                continue;
            }
            let t = thresholds(rules, parameter);
            let _ = writeln!(
                body,
                "| `{}` | {} | {} | {} | {} | {} |",
                parameter,
                limit(t.warn_low),
                limit(t.crit_low),
                limit(t.warn_high),
                limit(t.crit_high),
                or_dash(model.unit),
            );
        }
        for model in modes {
            let _ = write!(body, "\n{}\n", describe(model));
        }
        body.push_str("\n## Steps\n\n");
        for (i, step) in procedure.steps.iter().enumerate() {
            let _ = writeln!(body, "{}. {step}", i + 1);
        }
        body
    }

    fn note_body(self) -> String {
        format!(
            "# {} mission overview\n\n{}\n\n## About this data\n\nThe telemetry of this \
             spacecraft is simulated by the MissionOps demo seeder: every numeric parameter \
             follows a random walk around its nominal value, with occasional spikes past the \
             warning and now and then the critical limits, so that anomalies and alarms have \
             something to show. The data is deterministic for a given seed and time window; \
             seeding the same window again adds nothing.\n",
            self.spacecraft_name(),
            self.mission_note()
        )
    }
}

/// The packet definition (XTCE) of the demo's `Sat-Imager-001`: a copy of the packets crate's
/// `SAT_IMAGER_001_DEFINITION` (the core cannot depend on that crate; a test keeps the two
/// equal), to upload with `missionops packets define`.
pub const SAT_IMAGER_001_PACKET_DEFINITION: &str = include_str!("definitions/sat-imager-001.xml");

fn packet_definition_body(name: &str) -> String {
    format!(
        "# {name} packet definition\n\nThe CCSDS Space Packets of {name}, in the XTCE subset \
         MissionOps decodes (README, \"Packet telemetry\"). Upload it with \
         `missionops packets define {name} FILE` or `PUT /spacecraft/{name}/packet-definition`; \
         its static alarm ranges become the limits of parameters the configuration does not \
         set.\n\n```xml\n{SAT_IMAGER_001_PACKET_DEFINITION}```\n"
    )
}

fn document(
    spacecraft_id: &SpacecraftId,
    title: &str,
    category: &str,
    tags: &[&str],
    body: &str,
) -> Result<NewDocument> {
    let tags = tags
        .iter()
        .map(|t| Tag::parse(*t))
        .collect::<Result<Vec<_>>>()?;
    Ok(NewDocument {
        spacecraft_id: Some(spacecraft_id.clone()),
        title: DocumentTitle::parse(title)?,
        body: DocumentBody::parse(body)?,
        tags: Some(Tags::new(tags)?),
        category: Some(DocumentCategory::parse(category)?),
    })
}

fn thresholds(rules: &CompiledRules, parameter: &str) -> Thresholds {
    ParameterName::parse(parameter)
        .ok()
        .and_then(|name| rules.rule_for(&name).map(|r| r.thresholds))
        .unwrap_or(Thresholds::NONE)
}

/// A threshold as a table cell: the number, or a dash when absent (stored as ±∞).
fn limit(value: f64) -> String {
    if value.is_finite() {
        format_js_number(value)
    } else {
        "—".to_owned()
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "—" } else { text }
}

fn describe(model: &ParameterModel) -> String {
    match model.behaviour {
        Behaviour::Mode { modes, .. } => {
            let values: Vec<String> = modes.iter().map(|m| format!("`{m}`")).collect();
            format!(
                "{}; `{}` is one of {} (the first is nominal)",
                model.description,
                model.name,
                values.join(", ")
            )
        }
        _ => model.description.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_has_definitions_procedures_and_a_note_with_unique_titles() {
        for profile in DemoProfile::ALL {
            let id = SpacecraftId::parse(profile.spacecraft_name()).unwrap();
            let docs = profile.documents(&id).unwrap();
            let categories: Vec<&str> = docs
                .iter()
                .filter_map(|d| d.category.as_ref().map(|c| c.as_str()))
                .collect();
            assert_eq!(categories.first(), Some(&"telemetry_definition"));
            assert_eq!(categories.last(), Some(&"mission_note"));
            assert!(categories.iter().filter(|c| **c == "procedure").count() >= 3);
            let mut titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
            titles.sort_unstable();
            titles.dedup();
            assert_eq!(titles.len(), docs.len(), "{profile}");
        }
    }

    #[test]
    fn procedures_cover_only_parameters_the_profile_has() {
        for profile in DemoProfile::ALL {
            for procedure in profile.procedures() {
                for parameter in procedure.covers {
                    assert!(
                        profile.parameters().iter().any(|m| m.name == *parameter),
                        "{profile}: {} covers unknown {parameter}",
                        procedure.title
                    );
                }
            }
        }
    }

    #[test]
    fn the_low_soc_procedure_states_the_configured_limits() {
        let id = SpacecraftId::parse("Sat-Imager-001").unwrap();
        let docs = DemoProfile::LeoImaging.documents(&id).unwrap();
        let low_soc = docs
            .iter()
            .find(|d| d.title.as_str() == "Battery low-SOC recovery")
            .unwrap();
        assert!(
            low_soc
                .body
                .as_str()
                .contains("| `battery_soc` | 25 | 15 | — | — | % |")
        );
        assert!(
            low_soc
                .body
                .as_str()
                .contains("| `bus_voltage` | 24 | 22 | 34 | 36 | V |")
        );
    }
}
