//! `mock-anthropic [--port N]`: the mock Messages API as a program, for trying the genuine CLI by hand:
//! `ANTHROPIC_BASE_URL=<printed url> ANTHROPIC_API_KEY=x claude -p hi`.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args().skip_while(|a| a != "--port").nth(1).unwrap_or_else(|| "0".into());
    let mock = opcode_testkit::mock_api::MockApi::start_on(&format!("127.0.0.1:{port}")).await?;
    println!("mock Anthropic API listening on {}", mock.url);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
