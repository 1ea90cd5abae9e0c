use super::Output;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReportArgs {
    /// The run folder (the --out of `l2r run`).
    dir: PathBuf,
    /// Where to write the HTML file (default: <dir>/report.html).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: ReportArgs, output: &Output) -> anyhow::Result<()> {
    let path = l2r::report::write_report(&args.dir, args.out.as_deref())?;
    if output.json {
        return output.print_json(&serde_json::json!({ "report": path }));
    }
    println!("{}", path.display());
    Ok(())
}
