//! The `kubefate` CLI of the release package, unpacked into the state dir with a config.yaml for
//! this lab, so the tutorial's `kubefate cluster ls` works. Best effort: fatelab itself does not
//! need the CLI.

use std::os::unix::fs::OpenOptionsExt;

use anyhow::Result;

use crate::model::credentials::Credentials;
use crate::steps::Ctx;
use crate::ui::StepLine;

pub fn install(ctx: &Ctx, line: &StepLine, creds: &Credentials) {
    let dir = ctx.state_dir.join("kubefate");
    let result = (|| -> Result<bool> {
        let package = ctx.package().map_err(|e| anyhow::anyhow!(e))?;
        let binary = package.file("kubefate")?;
        let target = dir.join("kubefate");
        let config = format!(
            "log:\n  level: info\nuser:\n  username: {}\n  password: {}\nserviceurl: {}\n",
            creds.kubefate_username,
            creds.kubefate_password.expose(),
            ctx.spec.service_host()
        );
        let cfg = dir.join("config.yaml");
        if std::fs::read(&target).is_ok_and(|b| b == binary)
            && std::fs::read(&cfg).is_ok_and(|c| c == config.as_bytes())
        {
            return Ok(false);
        }
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&target, binary)?;
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        // It holds the service password: readable by its owner only.
        let _ = std::fs::remove_file(&cfg);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&cfg)?;
        std::io::Write::write_all(&mut f, config.as_bytes())?;
        Ok(true)
    })();
    match result {
        Ok(false) => {}
        Ok(true) => line.say(format!(
            "the kubefate CLI is in {d}; it reads config.yaml from its working directory: \
             `cd {d} && ./kubefate cluster ls` (to put it on PATH: `sudo ln -s {d}/kubefate /usr/local/bin/kubefate`)",
            d = dir.display()
        )),
        Err(e) => line.say(format!(
            "the kubefate CLI was not installed ({e:#}); fatelab does not need it"
        )),
    }
}
