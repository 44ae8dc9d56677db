# jcdiag installer for Windows (Windows PowerShell 5.1 or later), from an elevated prompt:
#
#   powershell -c "& ([scriptblock]::Create((irm https://<endpoint>/install.ps1))) -Case 01234567 -Token <t>"
#
# Installs (or reuses) jcdiag.exe, verifies its SHA-256 with Get-FileHash before anything runs
# it, then runs `jcdiag submit --yes --case <Case>` plus any further arguments, attaching a
# fresh bundle to the case. -NoRun only installs.
# Environment: JCDIAG_INSTALL_DIR (default: %ProgramFiles%\jcdiag when elevated, else
# %LOCALAPPDATA%\Programs\jcdiag), JCDIAG_DOWNLOAD_URL (base of the releases tree, default
# <endpoint>/dl), JCDIAG_VERSION, JCDIAG_TARGET (default x86_64-pc-windows-gnu),
# HTTPS_PROXY (else the system proxy). A private CA must be in the machine's trust store for
# the download; JCDIAG_CA_FILE is honoured by jcdiag itself.
# Only https:// is fetched (http:// only from 127.0.0.1, localhost or [::1], for tests).
# The whole script is parsed before any of it runs (scriptblock::Create), and the only
# top-level statement is the last line.
param(
    [string]$Case,
    [string]$Token,
    [switch]$NoRun,
    [Parameter(ValueFromRemainingArguments = $true)]
    [string[]]$JcdiagArgs
)

function Invoke-JcdiagInstall {
    param([string]$Case, [string]$Token, [bool]$NoRun, [string[]]$JcdiagArgs)

    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'   # Invoke-WebRequest is slow with a progress bar
    [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12

    # The endpoint fills these in when it serves the script (jcdiag-intake serve --releases).
    $served = '@@JCDIAG_BASE_URL@@'
    $servedVersion = '@@JCDIAG_VERSION@@'
    if ($served.Contains('@@')) { $served = '' }
    if ($servedVersion.Contains('@@')) { $servedVersion = '' }

    function Say([string]$Text) { [Console]::Error.WriteLine("jcdiag-install: $Text") }
    function Fail([string]$Text) { Say "error: $Text"; exit 1 }

    function Test-Url([string]$Url) {
        if ($Url -match '^https://') { return }
        if ($Url -match '^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?/') { return }
        Fail "refusing to download from ${Url}: only https:// (http:// only on 127.0.0.1, localhost or [::1])"
    }

    function Get-File([string]$Url, [string]$OutFile) {
        Test-Url $Url
        $request = @{ Uri = $Url; OutFile = $OutFile; UseBasicParsing = $true; MaximumRedirection = 0 }
        if ($env:HTTPS_PROXY) { $request.Proxy = $env:HTTPS_PROXY }
        try { Invoke-WebRequest @request } catch { Fail "download of $Url failed: $($_.Exception.Message)" }
    }

    function Test-Version([string]$Exe, [string]$Version) {
        if (-not (Test-Path -LiteralPath $Exe -PathType Leaf)) { return $false }
        try { $reported = (& $Exe --version 2>$null | Select-Object -First 1) } catch { return $false }
        return ($LASTEXITCODE -eq 0 -and "$reported".Trim() -eq "jcdiag $Version")
    }

    $download = $env:JCDIAG_DOWNLOAD_URL
    if (-not $download) {
        if (-not $served) { Fail 'set JCDIAG_DOWNLOAD_URL: this copy of install.ps1 was not served by an endpoint' }
        $download = "$served/dl"
    }
    $download = $download.TrimEnd('/')
    Test-Url "$download/"

    $target = $env:JCDIAG_TARGET
    if (-not $target) {
        # ARM64 Windows runs the x86_64 build under emulation.
        $target = 'x86_64-pc-windows-gnu'
    }

    $version = $env:JCDIAG_VERSION
    if (-not $version) { $version = $servedVersion }
    if (-not $version) {
        Test-Url "$download/latest"
        try {
            $latest = Invoke-WebRequest -Uri "$download/latest" -UseBasicParsing -MaximumRedirection 0
            $version = "$($latest.Content)".Trim()
        } catch { Fail "cannot learn the version to install from $download/latest: set JCDIAG_VERSION" }
    }
    if ($version -notmatch '^[0-9][0-9A-Za-z.+-]*$' -or $version.Contains('..')) { Fail "not a version: '$version'" }

    $identity = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
    $elevated = $identity.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
    $dir = $env:JCDIAG_INSTALL_DIR
    if (-not $dir) {
        if ($elevated) { $dir = Join-Path $env:ProgramFiles 'jcdiag' }
        else { $dir = Join-Path $env:LOCALAPPDATA 'Programs\jcdiag' }
    }
    $exe = Join-Path $dir 'jcdiag.exe'

    if (Test-Version $exe $version) {
        Say "reusing $exe ($version)"
    } else {
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        # Downloaded into the install folder itself (admin-only under Program Files, the
        # user's own under LOCALAPPDATA), never into a shared temp folder.
        $partial = Join-Path $dir ('.jcdiag-' + [Guid]::NewGuid().ToString('N') + '.exe')
        $sumFile = "$partial.sha256"
        try {
            $url = "$download/$version/$target/jcdiag.exe"
            Say "downloading $url"
            Get-File $url $partial
            Get-File "$url.sha256" $sumFile
            $expected = ((Get-Content -LiteralPath $sumFile -TotalCount 1) -split '\s+')[0].ToLowerInvariant()
            if ($expected -notmatch '^[0-9a-f]{64}$') { Fail "$url.sha256 does not hold a SHA-256: not installing" }
            $actual = (Get-FileHash -LiteralPath $partial -Algorithm SHA256).Hash.ToLowerInvariant()
            if ($actual -ne $expected) {
                Fail "checksum mismatch for $url (expected $expected, got $actual): not installing"
            }
            if (-not (Test-Version $partial $version)) {
                Fail "the downloaded jcdiag.exe does not run or is not version $version"
            }
            Move-Item -LiteralPath $partial -Destination $exe -Force
            Say "installed $exe ($version, sha256 $actual)"
        } finally {
            Remove-Item -LiteralPath $partial, $sumFile -Force -ErrorAction SilentlyContinue
        }
    }
    if ($NoRun) { exit 0 }

    $arguments = @('submit', '--yes')
    if ($Case) { $arguments += @('--case', $Case) }
    $hasEndpoint = @($JcdiagArgs | Where-Object { $_ -like '--endpoint*' }).Count -gt 0
    if (-not $hasEndpoint -and -not $env:JCDIAG_ENDPOINT -and $served) {
        $arguments += @('--endpoint', $served)
    }
    if ($JcdiagArgs) { $arguments += $JcdiagArgs }
    # The token reaches jcdiag through its environment, not its command line.
    if ($Token) { $env:JCDIAG_TOKEN = $Token }
    Say 'running jcdiag submit --yes'
    & $exe @arguments
    exit $LASTEXITCODE
}

Invoke-JcdiagInstall -Case $Case -Token $Token -NoRun $NoRun.IsPresent -JcdiagArgs $JcdiagArgs
