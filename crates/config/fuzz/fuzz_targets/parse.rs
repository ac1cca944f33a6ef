//! Whatever text the config variable holds, `config::parse` must return a config or
//! field errors that each name a path; a config it accepts must survive a round trip
//! through its own serialisation. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text) {
        Ok(cfg) => {
            let again = serde_json::to_string(&cfg).expect("a parsed config serialises");
            let reparsed = config::parse(&again).expect("a serialised config parses again");
            assert_eq!(reparsed, cfg);
            let _ = cfg.validate_for_mesh_init();
        }
        Err(config::ConfigError::Invalid(errors)) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(!e.message.is_empty());
            }
        }
        Err(_) => {}
    }
});
