//! Safe file access for a tool that runs as root or SYSTEM on machines where other users can plant
//! files ([`fsafe`]: no links followed, regular files only, owner-only output, file identity), and
//! the human units of flags and config files ([`size`]: `10MiB`, [`duration`]: `90s`, `2d`).

pub mod duration;
pub mod fsafe;
pub mod size;
