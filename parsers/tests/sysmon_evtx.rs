//! Raw `.evtx`: every corpus file parses with the record count the corpus
//! manifest gives; truncated and bit-flipped copies give errors, not panics.
//!
//! The corpus tests read `../shared/corpus/sysmon` (next to the repository)
//! and say so when they skip because it is absent; the damaged-input tests
//! use the small copies in `testdata/sysmon/evtx/`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use tripline_parsers::sysmon::evtx::EvtxReader;
use tripline_parsers::{Event, ParseError};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/corpus` (or `$TRIPLINE_CORPUS`), if present.
fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("TRIPLINE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    p.join("MANIFEST.md").is_file().then_some(p)
}

fn read_bytes(bytes: Vec<u8>) -> Result<(Vec<Event>, Vec<ParseError>), ParseError> {
    let mut r = EvtxReader::new(Cursor::new(bytes))?;
    let mut evs = Vec::new();
    let mut errs = Vec::new();
    r.read(&mut |e| evs.push(e), &mut |e| errs.push(e));
    Ok((evs, errs))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

/// `(path relative to the corpus, records)` from the manifest's EVTX table.
fn manifest_counts(corpus: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.md")).expect("manifest");
    let mut out = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_section = line.contains("Windows Sysmon EVTX");
            continue;
        }
        if !in_section || !line.starts_with("| sysmon/evtx/") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | file | source | license | records | EIDs | other |
        if let Ok(n) = cells[4].parse() {
            out.push((cells[1].to_string(), n));
        }
    }
    out
}

#[test]
fn corpus_evtx_record_counts() {
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED corpus_evtx_record_counts: ../shared/corpus not found");
        return;
    };
    let manifest = manifest_counts(&corpus);
    let mut all = Vec::new();
    files(&corpus.join("sysmon/evtx"), "evtx", &mut all);
    assert_eq!(all.len(), 87, "corpus has 87 .evtx files");
    assert_eq!(manifest.len(), 87, "manifest lists 87 .evtx files");
    let mut bad = Vec::new();
    let mut total = 0;
    for (rel, want) in &manifest {
        let bytes = std::fs::read(corpus.join(rel)).expect("read evtx");
        match read_bytes(bytes) {
            Ok((evs, errs)) => {
                total += evs.len();
                if evs.len() as u64 != *want || !errs.is_empty() {
                    bad.push(format!(
                        "{rel}: {} records, manifest says {want}; errors: {errs:?}",
                        evs.len()
                    ));
                }
                for e in &evs {
                    if e.host.name.is_none() || !e.extra.contains_key("winlog.record_id") {
                        bad.push(format!("{rel}: event without host.name/record id"));
                        break;
                    }
                }
            }
            Err(e) => bad.push(format!("{rel}: {e}")),
        }
    }
    eprintln!("{} .evtx files, {total} records", manifest.len());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn sigma_regression_evtx_parse() {
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED sigma_regression_evtx_parse: ../shared/corpus not found");
        return;
    };
    let mut all = Vec::new();
    files(&corpus.join("sysmon/sigma-regression"), "evtx", &mut all);
    assert!(all.len() >= 70, "{} regression .evtx", all.len());
    for p in &all {
        let (evs, errs) = read_bytes(std::fs::read(p).unwrap()).unwrap();
        assert!(
            !evs.is_empty() && errs.is_empty(),
            "{}: {errs:?}",
            p.display()
        );
    }
}

fn samples() -> Vec<PathBuf> {
    let mut v = Vec::new();
    files(&root().join("testdata/sysmon/evtx"), "evtx", &mut v);
    assert!(v.len() >= 3, "testdata/sysmon/evtx samples missing");
    v
}

#[test]
fn samples_parse_with_manifest_counts() {
    // From the corpus manifest (the copies are byte-identical).
    let want = [
        ("ID1-LSASS_dump_with_LSASSY_SYSMON_.evtx", 14),
        ("LM_DCOM_MSHTA_LethalHTA_Sysmon_3_1.evtx", 2),
        ("tutto_malseclogon.evtx", 15),
    ];
    for (name, n) in want {
        let p = root().join("testdata/sysmon/evtx").join(name);
        let (evs, errs) = read_bytes(std::fs::read(&p).unwrap()).unwrap();
        assert_eq!((evs.len(), errs.len()), (n, 0), "{name}");
    }
    // tutto_malseclogon mixes Security (9) and Sysmon (6) records.
    let (evs, _) = read_bytes(
        std::fs::read(root().join("testdata/sysmon/evtx/tutto_malseclogon.evtx")).unwrap(),
    )
    .unwrap();
    let security = evs
        .iter()
        .filter(|e| e.extra.get("winlog.channel").and_then(|v| v.as_str()) == Some("Security"))
        .count();
    assert_eq!(security, 9);
    assert!(
        evs.iter()
            .all(|e| e.host.os_type.as_deref() == Some("windows"))
    );
}

#[test]
fn truncated_copies_error_not_panic() {
    for p in samples() {
        let bytes = std::fs::read(&p).unwrap();
        let (full, _) = read_bytes(bytes.clone()).unwrap();
        for cut in [
            0,
            7,
            100,
            4096,
            4096 + 512,
            4096 + 3000,
            20_000,
            bytes.len() - 1,
        ] {
            let cut = cut.min(bytes.len());
            match read_bytes(bytes[..cut].to_vec()) {
                Err(_) => {}
                Ok((evs, errs)) => {
                    assert!(evs.len() <= full.len(), "{}: cut {cut}", p.display());
                    // A cut inside the chunk loses the chunk or its tail; the
                    // reader must say so unless it read everything.
                    if evs.len() < full.len() && cut > 4096 {
                        assert!(
                            !errs.is_empty() || evs.len() < full.len(),
                            "{}: cut {cut}",
                            p.display()
                        );
                    }
                }
            }
        }
    }
}

/// xorshift64: deterministic "random" damage.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.max(1);
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
fn bit_flipped_copies_error_not_panic() {
    let mut next = rng(0x5eed_cafe);
    let mut with_errors = 0;
    let mut runs = 0;
    for p in samples() {
        let bytes = std::fs::read(&p).unwrap();
        for round in 0..150 {
            let mut b = bytes.clone();
            // Damage the records region (past the file and chunk headers),
            // sometimes the chunk header too.
            let lo = if round % 5 == 0 { 4096 } else { 4096 + 512 };
            let flips = 1 + (next() % 16) as usize;
            for _ in 0..flips {
                let i = lo + (next() as usize) % (b.len() - lo);
                b[i] ^= 1 << (next() % 8);
            }
            runs += 1;
            match read_bytes(b) {
                Err(_) => with_errors += 1,
                Ok((_, errs)) => {
                    if !errs.is_empty() {
                        with_errors += 1;
                    }
                    for e in &errs {
                        assert!(!e.message.is_empty());
                    }
                }
            }
        }
    }
    eprintln!("{runs} damaged copies, {with_errors} reported errors");
    assert!(with_errors > 0);
}

#[test]
fn garbage_is_not_evtx() {
    assert!(read_bytes(b"ElfFile\0short".to_vec()).is_err());
    assert!(read_bytes(vec![0u8; 10_000]).is_err());
    let mut fake = b"ElfFile\0".to_vec();
    fake.resize(4096 + 65536, 0xff);
    let _ = read_bytes(fake);
}

/// Every rendered record of `bytes`, as the reader renders them (the chunk
/// renderer `evtx_dump` uses); checks on the way that the record API
/// (`records_json_bytes`, which builds each record's content first) renders
/// the same bytes.
fn rendered(bytes: Vec<u8>) -> Vec<Vec<u8>> {
    let settings = evtx::ParserSettings::default()
        .num_threads(1)
        .indent(false)
        .separate_json_attributes(false);
    let mut p = evtx::EvtxParser::from_buffer(bytes)
        .unwrap()
        .with_configuration(settings);
    let by_chunk: Vec<Vec<u8>> = p
        .chunks_json_bytes(false)
        .flat_map(|c| c.records().map(|(_, r)| r.to_vec()).collect::<Vec<_>>())
        .collect();
    let by_record: Vec<Vec<u8>> = p
        .records_json_bytes()
        .filter_map(Result::ok)
        .map(|r| r.data)
        .collect();
    assert!(by_chunk == by_record, "chunk and record renderers differ");
    by_chunk
}

/// The direct read of a rendered record (no `Value` tree) gives exactly what
/// the `Value` path gives, and `build_owned` what `build` gives: over the
/// samples always, and over every corpus and regression-set record when the
/// corpus is present.
#[test]
fn direct_read_equals_value_path() {
    use tripline_parsers::sysmon::{ecs, evtx::win_event, shapes::from_evtx_json};
    let mut paths = samples();
    match corpus() {
        Some(c) => {
            files(&c.join("sysmon/evtx"), "evtx", &mut paths);
            files(&c.join("sysmon/sigma-regression"), "evtx", &mut paths);
        }
        None => eprintln!("corpus absent: direct_read_equals_value_path checks the samples only"),
    }
    let mut records = 0;
    for p in &paths {
        for json in rendered(std::fs::read(p).unwrap()) {
            let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
            let want = from_evtx_json(&doc);
            let got = win_event(&json).unwrap();
            assert_eq!(
                got,
                want,
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&json)
            );
            if let Some(w) = want {
                assert_eq!(
                    ecs::build_owned(w.clone()),
                    ecs::build(&w),
                    "{}",
                    p.display()
                );
            }
            records += 1;
        }
    }
    eprintln!("{} files, {records} records compared", paths.len());
    assert!(records >= 31);
}
