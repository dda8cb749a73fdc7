//! MITRE ATT&CK from Sigma tags: `attack.credential_access` names a tactic,
//! `attack.t1552.005` a (sub-)technique.
//!
//! # Grouping
//!
//! Elastic's `threat` array lists techniques under a tactic. A Sigma rule's tags
//! do not say which technique belongs to which tactic, and we carry no full
//! technique-to-tactic table, so **every technique goes under the first tactic
//! the rule names**; further tactics get an entry of their own with no
//! techniques. A rule with techniques but no tactic gets one entry with an
//! empty tactic. This keeps each technique exactly once in the alert (a SIEM
//! counting techniques is not fooled) while keeping every tactic visible.

use super::meta::{Threat, ThreatTechnique};

/// Enterprise ATT&CK tactics: (Sigma tag name, id, display name).
pub const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource_development", "TA0042", "Resource Development"),
    ("initial_access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege_escalation", "TA0004", "Privilege Escalation"),
    ("defense_evasion", "TA0005", "Defense Evasion"),
    ("credential_access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral_movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command_and_control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// Names of the techniques the shipped packs use (others keep an empty name).
pub const TECHNIQUES: &[(&str, &str)] = &[
    ("T1003", "OS Credential Dumping"),
    ("T1003.008", "/etc/passwd and /etc/shadow"),
    ("T1016", "System Network Configuration Discovery"),
    ("T1018", "Remote System Discovery"),
    ("T1027", "Obfuscated Files or Information"),
    ("T1033", "System Owner/User Discovery"),
    ("T1036", "Masquerading"),
    ("T1046", "Network Service Discovery"),
    ("T1048", "Exfiltration Over Alternative Protocol"),
    ("T1049", "System Network Connections Discovery"),
    ("T1053", "Scheduled Task/Job"),
    ("T1053.003", "Cron"),
    ("T1057", "Process Discovery"),
    ("T1059", "Command and Scripting Interpreter"),
    ("T1059.004", "Unix Shell"),
    ("T1059.006", "Python"),
    ("T1068", "Exploitation for Privilege Escalation"),
    ("T1069", "Permission Groups Discovery"),
    ("T1070", "Indicator Removal"),
    ("T1070.004", "File Deletion"),
    ("T1071", "Application Layer Protocol"),
    ("T1071.001", "Web Protocols"),
    ("T1078", "Valid Accounts"),
    ("T1078.004", "Cloud Accounts"),
    ("T1082", "System Information Discovery"),
    ("T1083", "File and Directory Discovery"),
    ("T1087", "Account Discovery"),
    ("T1090", "Proxy"),
    ("T1095", "Non-Application Layer Protocol"),
    ("T1105", "Ingress Tool Transfer"),
    ("T1190", "Exploit Public-Facing Application"),
    ("T1222", "File and Directory Permissions Modification"),
    ("T1496", "Resource Hijacking"),
    ("T1552", "Unsecured Credentials"),
    ("T1552.001", "Credentials In Files"),
    ("T1552.005", "Cloud Instance Metadata API"),
    ("T1562", "Impair Defenses"),
    ("T1567", "Exfiltration Over Web Service"),
    ("T1572", "Protocol Tunneling"),
    ("T1580", "Cloud Infrastructure Discovery"),
];

/// The display name of a technique or sub-technique id (`""` when unknown).
pub fn technique_name(id: &str) -> &'static str {
    TECHNIQUES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(id))
        .map(|(_, n)| *n)
        .unwrap_or("")
}

/// `(id, name)` of the tactic a Sigma tag suffix names (`credential_access`,
/// also `credential-access`).
pub fn tactic(tag: &str) -> Option<(&'static str, &'static str)> {
    let t = tag.to_ascii_lowercase().replace('-', "_");
    TACTICS
        .iter()
        .find(|(k, _, _)| *k == t)
        .map(|(_, id, name)| (*id, *name))
}

/// Builds the `threat` entries from a rule's tags (see the module docs for the grouping).
pub fn threats_from_tags(tags: &[String]) -> Vec<Threat> {
    let mut tactics: Vec<Threat> = Vec::new();
    let mut techniques: Vec<ThreatTechnique> = Vec::new();
    for tag in tags {
        let Some(rest) = tag
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("attack."))
            .map(|_| &tag[7..])
        else {
            continue;
        };
        if let Some((id, name)) = tactic(rest) {
            if !tactics.iter().any(|t| t.tactic_id == id) {
                tactics.push(Threat {
                    tactic_id: id.into(),
                    tactic_name: name.into(),
                    techniques: Vec::new(),
                });
            }
            continue;
        }
        let Some(tid) = technique_id(rest) else {
            continue; // attack.g0032 (groups), attack.s0002 (software): tags only
        };
        let (base, sub) = match tid.split_once('.') {
            Some((b, _)) => (b.to_string(), Some(tid.clone())),
            None => (tid.clone(), None),
        };
        let idx = match techniques.iter().position(|t| t.id == base) {
            Some(i) => i,
            None => {
                techniques.push(ThreatTechnique {
                    name: technique_name(&base).into(),
                    id: base,
                    subtechniques: Vec::new(),
                });
                techniques.len() - 1
            }
        };
        if let Some(sub) = sub
            && !techniques[idx].subtechniques.iter().any(|(s, _)| *s == sub)
        {
            let name = technique_name(&sub).to_string();
            techniques[idx].subtechniques.push((sub, name));
        }
    }
    if techniques.is_empty() {
        return tactics;
    }
    match tactics.first_mut() {
        Some(first) => first.techniques = techniques,
        None => tactics.push(Threat {
            techniques,
            ..Threat::default()
        }),
    }
    tactics
}

/// `t1552.005` -> `T1552.005`; `None` if it is not a technique id.
fn technique_id(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[0].eq_ignore_ascii_case(&b't') {
        return None;
    }
    let (main, sub) = match s[1..].split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (&s[1..], None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    if main.len() != 4 || !digits(main) {
        return None;
    }
    match sub {
        None => Some(format!("T{main}")),
        Some(sub) if sub.len() == 3 && digits(sub) => Some(format!("T{main}.{sub}")),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tactics_and_techniques_group_under_first_tactic() {
        let t = threats_from_tags(&tags(&[
            "attack.credential_access",
            "attack.t1552.005",
            "attack.discovery",
            "attack.t1580",
            "attack.g0032",
            "cve.2021-1234",
        ]));
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].tactic_id, "TA0006");
        assert_eq!(t[0].tactic_name, "Credential Access");
        assert_eq!(t[0].techniques.len(), 2);
        assert_eq!(t[0].techniques[0].id, "T1552");
        assert_eq!(t[0].techniques[0].name, "Unsecured Credentials");
        assert_eq!(
            t[0].techniques[0].subtechniques,
            vec![("T1552.005".into(), "Cloud Instance Metadata API".into())]
        );
        assert_eq!(t[0].techniques[1].name, "Cloud Infrastructure Discovery");
        assert_eq!(t[1].tactic_id, "TA0007");
        assert!(t[1].techniques.is_empty());
    }

    #[test]
    fn techniques_without_tactic() {
        let t = threats_from_tags(&tags(&["attack.t9999", "attack.T1059.004"]));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].tactic_id, "");
        assert_eq!(t[0].techniques[0].id, "T9999");
        assert_eq!(t[0].techniques[0].name, "");
        assert_eq!(t[0].techniques[1].subtechniques[0].0, "T1059.004");
    }

    #[test]
    fn every_tactic_resolves() {
        assert_eq!(TACTICS.len(), 14);
        for (tag, id, _) in TACTICS {
            assert_eq!(tactic(tag).unwrap().0, *id);
        }
        assert_eq!(tactic("command-and-control").unwrap().0, "TA0011");
        assert!(threats_from_tags(&tags(&["attack.t12"])).is_empty());
    }
}
