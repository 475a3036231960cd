<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>Dashboard</name>
    <message>
        <source>Cannot open the database</source>
        <translation>Datenbank kann nicht geöffnet werden</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::ConnectionDialog</name>
    <message>
        <source>Open Database</source>
        <translation>Datenbank öffnen</translation>
    </message>
    <message>
        <source>A PostgreSQL URL (postgresql://user:password@host:port/database) or a SQLite file (sqlite:/path/to/jobs.db). Parts of a PostgreSQL URL left out come from libpq&apos;s environment and ~/.pgpass.</source>
        <translation>Eine PostgreSQL-URL (postgresql://benutzer:passwort@host:port/datenbank) oder eine SQLite-Datei (sqlite:/pfad/zu/jobs.db). Fehlende Teile einer PostgreSQL-URL stammen aus der Umgebung von libpq und aus ~/.pgpass.</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>Durch&amp;suchen…</translation>
    </message>
    <message>
        <source>&amp;Database:</source>
        <translation>&amp;Datenbank:</translation>
    </message>
    <message>
        <source>&amp;Table:</source>
        <comment>database table</comment>
        <translation>&amp;Tabelle:</translation>
    </message>
    <message>
        <source>&amp;Monitor only: open read-only, no worker, no actions</source>
        <translation>&amp;Nur überwachen: schreibgeschützt öffnen, kein Worker, keine Aktionen</translation>
    </message>
    <message>
        <source>SQLite Database</source>
        <translation>SQLite-Datenbank</translation>
    </message>
    <message>
        <source>SQLite databases (*.db *.sqlite);;All files (*)</source>
        <translation>SQLite-Datenbanken (*.db *.sqlite);;Alle Dateien (*)</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::Format</name>
    <message>
        <source>%1 ms</source>
        <translation>%1 ms</translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation>%1 s</translation>
    </message>
    <message>
        <source>%1 min %2 s</source>
        <translation>%1 min %2 s</translation>
    </message>
    <message>
        <source>%1 h %2 min</source>
        <translation>%1 h %2 min</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::JobDetailWidget</name>
    <message>
        <source>—</source>
        <translation>—</translation>
    </message>
    <message>
        <source>Select a job to see its details.</source>
        <translation>Wählen Sie einen Job aus, um die Details anzuzeigen.</translation>
    </message>
    <message>
        <source>Status:</source>
        <translation>Status:</translation>
    </message>
    <message>
        <source>Queue:</source>
        <comment>job queue</comment>
        <translation>Warteschlange:</translation>
    </message>
    <message>
        <source>Attempts:</source>
        <translation>Versuche:</translation>
    </message>
    <message>
        <source>Times:</source>
        <translation>Zeiten:</translation>
    </message>
    <message>
        <source>Worker:</source>
        <translation>Worker:</translation>
    </message>
    <message>
        <source>Payload</source>
        <translation>Nutzdaten</translation>
    </message>
    <message>
        <source>Last error</source>
        <translation>Letzter Fehler</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Ergebnis</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Kopieren</translation>
    </message>
    <message>
        <source>Job %1 · %2</source>
        <translation>Job %1 · %2</translation>
    </message>
    <message>
        <source>%1, priority %2</source>
        <translation>%1, Priorität %2</translation>
    </message>
    <message>
        <source>%1 of %2</source>
        <translation>%1 von %2</translation>
    </message>
    <message>
        <source>%1 (of the worker&apos;s default)</source>
        <translation>%1 (von der Worker-Vorgabe)</translation>
    </message>
    <message>
        <source>created %1
run at %2
started %3
finished %4
updated %5</source>
        <translation>erstellt %1
fällig %2
gestartet %3
beendet %4
aktualisiert %5</translation>
    </message>
    <message>
        <source>%1 (lock refreshed %2)</source>
        <translation>%1 (Sperre erneuert: %2)</translation>
    </message>
    <message>
        <source>Copy the payload to the clipboard</source>
        <translation>Die Nutzdaten in die Zwischenablage kopieren</translation>
    </message>
    <message>
        <source>Copy the last error to the clipboard</source>
        <translation>Den letzten Fehler in die Zwischenablage kopieren</translation>
    </message>
    <message>
        <source>Copy the result to the clipboard</source>
        <translation>Das Ergebnis in die Zwischenablage kopieren</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::JobDialog</name>
    <message>
        <source>Enqueue Job</source>
        <translation>Job einreihen</translation>
    </message>
    <message>
        <source>Edit Job %1</source>
        <comment>window title; %1 is the job id</comment>
        <translation>Job %1 bearbeiten</translation>
    </message>
    <message>
        <source>&amp;Type:</source>
        <comment>job type</comment>
        <translation>&amp;Typ:</translation>
    </message>
    <message>
        <source>Required: the name a handler is registered for</source>
        <translation>Pflichtfeld: der Name, unter dem ein Handler registriert ist</translation>
    </message>
    <message>
        <source>The job type: workers run a job with the handler registered for its type.</source>
        <translation>Der Job-Typ: Worker führen einen Job mit dem Handler aus, der für seinen Typ registriert ist.</translation>
    </message>
    <message>
        <source>&amp;Payload:</source>
        <comment>the job&apos;s whole JSON payload</comment>
        <translation>&amp;Nutzdaten:</translation>
    </message>
    <message>
        <source>&amp;Contents:</source>
        <comment>the JSON contents of the job&apos;s payload</comment>
        <translation>In&amp;halt:</translation>
    </message>
    <message>
        <source>The whole payload as JSON</source>
        <translation>Die gesamten Nutzdaten als JSON</translation>
    </message>
    <message>
        <source>Optional JSON value, for example {&quot;to&quot;: &quot;someone@example.com&quot;}</source>
        <translation>Optionaler JSON-Wert, zum Beispiel {&quot;to&quot;: &quot;jemand@example.com&quot;}</translation>
    </message>
    <message>
        <source>The payload stored with the job, edited as a whole.</source>
        <translation>Die mit dem Job gespeicherten Nutzdaten, als Ganzes bearbeitet.</translation>
    </message>
    <message>
        <source>Stored as {&quot;tag&quot;: type, &quot;contents&quot;: this value}. Leave empty for a payload without contents.</source>
        <translation>Gespeichert als {&quot;tag&quot;: Typ, &quot;contents&quot;: dieser Wert}. Leer lassen für Nutzdaten ohne Inhalt.</translation>
    </message>
    <message>
        <source>Edit the &amp;whole payload (JSON with &quot;tag&quot; and any other keys)</source>
        <translation>&amp;Gesamte Nutzdaten bearbeiten (JSON mit &quot;tag&quot; und beliebigen weiteren Schlüsseln)</translation>
    </message>
    <message>
        <source>Run:</source>
        <comment>when the job runs</comment>
        <translation>Ausführen:</translation>
    </message>
    <message>
        <source>&amp;Now</source>
        <comment>run the job now</comment>
        <translation>&amp;Jetzt</translation>
    </message>
    <message>
        <source>&amp;In</source>
        <comment>run the job in N minutes</comment>
        <translation>&amp;In</translation>
    </message>
    <message>
        <source>&amp;At</source>
        <comment>run the job at a date and time</comment>
        <translation>&amp;Am</translation>
    </message>
    <message>
        <source>Delay</source>
        <translation>Verzögerung</translation>
    </message>
    <message>
        <source>Delay unit</source>
        <translation>Einheit der Verzögerung</translation>
    </message>
    <message>
        <source>seconds</source>
        <comment>delay unit</comment>
        <translation>Sekunden</translation>
    </message>
    <message>
        <source>minutes</source>
        <comment>delay unit</comment>
        <translation>Minuten</translation>
    </message>
    <message>
        <source>hours</source>
        <comment>delay unit</comment>
        <translation>Stunden</translation>
    </message>
    <message>
        <source>days</source>
        <comment>delay unit</comment>
        <translation>Tagen</translation>
    </message>
    <message>
        <source>Date and time to run at</source>
        <translation>Datum und Uhrzeit der Ausführung</translation>
    </message>
    <message>
        <source>local time (%1)</source>
        <comment>%1 is a time zone abbreviation</comment>
        <translation>Ortszeit (%1)</translation>
    </message>
    <message>
        <source>&amp;Queue:</source>
        <comment>job queue name</comment>
        <translation>&amp;Warteschlange:</translation>
    </message>
    <message>
        <source>Workers take jobs only from the queues they serve.</source>
        <translation>Worker nehmen Jobs nur aus den Warteschlangen, die sie bedienen.</translation>
    </message>
    <message>
        <source>P&amp;riority:</source>
        <comment>job priority</comment>
        <translation>&amp;Priorität:</translation>
    </message>
    <message>
        <source>Smaller numbers run first; jobs of equal priority run in the order of their run-at time.</source>
        <translation>Kleinere Zahlen werden zuerst ausgeführt; Jobs gleicher Priorität in der Reihenfolge ihrer Fälligkeit.</translation>
    </message>
    <message>
        <source>smaller runs first</source>
        <comment>job priority</comment>
        <translation>kleinere zuerst</translation>
    </message>
    <message>
        <source>&amp;Max attempts:</source>
        <translation>&amp;Max. Versuche:</translation>
    </message>
    <message>
        <source>Worker default</source>
        <comment>max attempts</comment>
        <translation>Worker-Vorgabe</translation>
    </message>
    <message>
        <source>Use the maximum number of attempts the worker is configured with (10 unless configured otherwise).</source>
        <translation>Die im Worker eingestellte maximale Anzahl an Versuchen verwenden (10, sofern nicht anders eingestellt).</translation>
    </message>
    <message>
        <source>Max attempts</source>
        <translation>Maximale Anzahl an Versuchen</translation>
    </message>
    <message>
        <source>Time&amp;out:</source>
        <comment>job timeout</comment>
        <translation>&amp;Zeitlimit:</translation>
    </message>
    <message>
        <source>Worker default</source>
        <comment>timeout</comment>
        <translation>Worker-Vorgabe</translation>
    </message>
    <message>
        <source>Use the timeout the worker is configured with (600 seconds unless configured otherwise).</source>
        <translation>Das im Worker eingestellte Zeitlimit verwenden (600 Sekunden, sofern nicht anders eingestellt).</translation>
    </message>
    <message>
        <source>Timeout in seconds</source>
        <translation>Zeitlimit in Sekunden</translation>
    </message>
    <message>
        <source> s</source>
        <comment>seconds, after a number</comment>
        <translation> s</translation>
    </message>
    <message>
        <source>&amp;Enqueue</source>
        <translation>&amp;Einreihen</translation>
    </message>
    <message>
        <source>&amp;Save</source>
        <comment>save the edited job</comment>
        <translation>&amp;Speichern</translation>
    </message>
    <message>
        <source>Enqueuing…</source>
        <translation>Wird eingereiht…</translation>
    </message>
    <message>
        <source>Saving…</source>
        <translation>Wird gespeichert…</translation>
    </message>
    <message>
        <source>Enter a job type.</source>
        <translation>Geben Sie einen Job-Typ ein.</translation>
    </message>
    <message>
        <source>Payload: %1</source>
        <comment>%1 is a JSON error with its line and column</comment>
        <translation>Nutzdaten: %1</translation>
    </message>
    <message>
        <source>Contents: %1</source>
        <comment>%1 is a JSON error with its line and column</comment>
        <translation>Inhalt: %1</translation>
    </message>
    <message>
        <source>Enter a queue name.</source>
        <comment>job queue</comment>
        <translation>Geben Sie den Namen einer Warteschlange ein.</translation>
    </message>
    <message>
        <source>Only a valid payload with a string &quot;tag&quot; and no keys besides &quot;tag&quot; and &quot;contents&quot; can be split into type and contents.</source>
        <translation>Nur gültige Nutzdaten mit einer Zeichenkette in &quot;tag&quot; und ohne weitere Schlüssel außer &quot;tag&quot; und &quot;contents&quot; lassen sich in Typ und Inhalt aufteilen.</translation>
    </message>
    <message>
        <source>Enter a type and valid contents first.</source>
        <translation>Geben Sie zuerst einen Typ und einen gültigen Inhalt ein.</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::JobTableModel</name>
    <message>
        <source>Queued</source>
        <comment>job status</comment>
        <translation>Eingereiht</translation>
    </message>
    <message>
        <source>Running</source>
        <comment>job status (locked by a worker)</comment>
        <translation>Läuft</translation>
    </message>
    <message>
        <source>Retry</source>
        <comment>job status: waiting to be retried</comment>
        <translation>Wiederholung</translation>
    </message>
    <message>
        <source>Success</source>
        <comment>job status</comment>
        <translation>Erfolgreich</translation>
    </message>
    <message>
        <source>Failed</source>
        <comment>job status</comment>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <comment>job status</comment>
        <translation>Abgebrochen</translation>
    </message>
    <message>
        <source>Locked by %1 since %2</source>
        <translation>Gesperrt von %1 seit %2</translation>
    </message>
    <message>
        <source>ID</source>
        <comment>job id column</comment>
        <translation>ID</translation>
    </message>
    <message>
        <source>Type</source>
        <comment>job type column</comment>
        <translation>Typ</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Queue</source>
        <comment>job queue column</comment>
        <translation>Warteschlange</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>Priorität</translation>
    </message>
    <message>
        <source>Attempts</source>
        <translation>Versuche</translation>
    </message>
    <message>
        <source>Run at</source>
        <translation>Fällig</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Erstellt</translation>
    </message>
    <message>
        <source>Updated</source>
        <translation>Aktualisiert</translation>
    </message>
    <message>
        <source>Worker</source>
        <translation>Worker</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>Dauer</translation>
    </message>
    <message>
        <source>Last error</source>
        <translation>Letzter Fehler</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::JsonEdit</name>
    <message>
        <source>&amp;Format</source>
        <comment>pretty-print the JSON text</comment>
        <translation>&amp;Formatieren</translation>
    </message>
    <message>
        <source>Line %1, column %2: %3</source>
        <comment>JSON error position and message</comment>
        <translation>Zeile %1, Spalte %2: %3</translation>
    </message>
    <message>
        <source>a value is required</source>
        <comment>JSON error</comment>
        <translation>ein Wert ist erforderlich</translation>
    </message>
    <message>
        <source>unexpected text after the value</source>
        <comment>JSON error</comment>
        <translation>unerwarteter Text nach dem Wert</translation>
    </message>
    <message>
        <source>unexpected end of text: &quot;}&quot; missing</source>
        <comment>JSON error</comment>
        <translation>unerwartetes Textende: &quot;}&quot; fehlt</translation>
    </message>
    <message>
        <source>unexpected end of text: &quot;]&quot; missing</source>
        <comment>JSON error</comment>
        <translation>unerwartetes Textende: &quot;]&quot; fehlt</translation>
    </message>
    <message>
        <source>unexpected end of text</source>
        <comment>JSON error</comment>
        <translation>unerwartetes Textende</translation>
    </message>
    <message>
        <source>expected a member name in double quotes</source>
        <comment>JSON error</comment>
        <translation>Schlüssel in doppelten Anführungszeichen erwartet</translation>
    </message>
    <message>
        <source>expected &quot;,&quot; or &quot;}&quot;</source>
        <comment>JSON error</comment>
        <translation>&quot;,&quot; oder &quot;}&quot; erwartet</translation>
    </message>
    <message>
        <source>expected &quot;:&quot; after the member name</source>
        <comment>JSON error</comment>
        <translation>&quot;:&quot; nach dem Schlüssel erwartet</translation>
    </message>
    <message>
        <source>expected &quot;,&quot; or &quot;]&quot;</source>
        <comment>JSON error</comment>
        <translation>&quot;,&quot; oder &quot;]&quot; erwartet</translation>
    </message>
    <message>
        <source>invalid value (names and strings need double quotes)</source>
        <comment>JSON error</comment>
        <translation>ungültiger Wert (Namen und Zeichenketten brauchen doppelte Anführungszeichen)</translation>
    </message>
    <message>
        <source>invalid number</source>
        <comment>JSON error</comment>
        <translation>ungültige Zahl</translation>
    </message>
    <message>
        <source>unexpected end of text after a number</source>
        <comment>JSON error</comment>
        <translation>unerwartetes Textende nach einer Zahl</translation>
    </message>
    <message>
        <source>invalid escape sequence</source>
        <comment>JSON error</comment>
        <translation>ungültige Escape-Sequenz</translation>
    </message>
    <message>
        <source>invalid character in a string</source>
        <comment>JSON error</comment>
        <translation>ungültiges Zeichen in einer Zeichenkette</translation>
    </message>
    <message>
        <source>unterminated string: closing quote missing</source>
        <comment>JSON error</comment>
        <translation>nicht abgeschlossene Zeichenkette: schließendes Anführungszeichen fehlt</translation>
    </message>
    <message>
        <source>expected a value</source>
        <comment>JSON error</comment>
        <translation>Wert erwartet</translation>
    </message>
    <message>
        <source>nested too deeply</source>
        <comment>JSON error</comment>
        <translation>zu tief verschachtelt</translation>
    </message>
    <message>
        <source>the text is too large</source>
        <comment>JSON error</comment>
        <translation>der Text ist zu groß</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::LogModel</name>
    <message>
        <source>took %1</source>
        <comment>log message suffix: how long the job ran</comment>
        <translation>dauerte %1</translation>
    </message>
    <message>
        <source>Job %1 (%2), attempt %3, queue %4</source>
        <translation>Job %1 (%2), Versuch %3, Warteschlange %4</translation>
    </message>
    <message>
        <source>Duration: %1</source>
        <translation>Dauer: %1</translation>
    </message>
    <message>
        <source>Worker: %1</source>
        <translation>Worker: %1</translation>
    </message>
    <message>
        <source>Time</source>
        <comment>log column</comment>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>Level</source>
        <comment>log column: severity</comment>
        <translation>Stufe</translation>
    </message>
    <message>
        <source>Event</source>
        <comment>log column: kind of event</comment>
        <translation>Ereignis</translation>
    </message>
    <message>
        <source>Job</source>
        <comment>log column: job id</comment>
        <translation>Job</translation>
    </message>
    <message>
        <source>Type</source>
        <comment>log column: job type</comment>
        <translation>Typ</translation>
    </message>
    <message>
        <source>Message</source>
        <comment>log column</comment>
        <translation>Meldung</translation>
    </message>
    <message>
        <source>Debug</source>
        <comment>log level</comment>
        <translation>Debug</translation>
    </message>
    <message>
        <source>Info</source>
        <comment>log level</comment>
        <translation>Info</translation>
    </message>
    <message>
        <source>Warning</source>
        <comment>log level</comment>
        <translation>Warnung</translation>
    </message>
    <message>
        <source>Error</source>
        <comment>log level</comment>
        <translation>Fehler</translation>
    </message>
    <message>
        <source>Started</source>
        <comment>log event: a job started</comment>
        <translation>Gestartet</translation>
    </message>
    <message>
        <source>Succeeded</source>
        <comment>log event: a job succeeded</comment>
        <translation>Erfolgreich</translation>
    </message>
    <message>
        <source>Failed</source>
        <comment>log event: a job failed and will be retried</comment>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>Failed permanently</source>
        <comment>log event: a job failed with no attempts left</comment>
        <translation>Endgültig fehlgeschlagen</translation>
    </message>
    <message>
        <source>Timed out</source>
        <comment>log event: a job hit its deadline</comment>
        <translation>Zeitüberschreitung</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <comment>log event: a job was cancelled</comment>
        <translation>Abgebrochen</translation>
    </message>
    <message>
        <source>Lock lost</source>
        <comment>log event: the job&apos;s row changed under the worker</comment>
        <translation>Sperre verloren</translation>
    </message>
    <message>
        <source>Rescued</source>
        <comment>log event: a dead worker&apos;s job was moved back</comment>
        <translation>Gerettet</translation>
    </message>
    <message>
        <source>Handed back</source>
        <comment>log event: shutdown returned the job to the queue</comment>
        <translation>Zurückgegeben</translation>
    </message>
    <message>
        <source>Poll</source>
        <comment>log event: the runner looked for work</comment>
        <translation>Abfrage</translation>
    </message>
    <message>
        <source>Worker state</source>
        <comment>log event: the runner changed state</comment>
        <translation>Worker-Zustand</translation>
    </message>
    <message>
        <source>Database error</source>
        <comment>log event</comment>
        <translation>Datenbankfehler</translation>
    </message>
    <message>
        <source>Reconnected</source>
        <comment>log event: the database connection is back</comment>
        <translation>Wieder verbunden</translation>
    </message>
    <message>
        <source>Message</source>
        <comment>log event: free text</comment>
        <translation>Meldung</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::LogPanel</name>
    <message>
        <source>All levels</source>
        <comment>log level filter</comment>
        <translation>Alle Stufen</translation>
    </message>
    <message>
        <source>Info and above</source>
        <comment>log level filter</comment>
        <translation>Info und höher</translation>
    </message>
    <message>
        <source>Warnings and errors</source>
        <comment>log level filter</comment>
        <translation>Warnungen und Fehler</translation>
    </message>
    <message>
        <source>Errors only</source>
        <comment>log level filter</comment>
        <translation>Nur Fehler</translation>
    </message>
    <message>
        <source>Show events at or above this level</source>
        <translation>Ereignisse ab dieser Stufe anzeigen</translation>
    </message>
    <message>
        <source>Minimum level</source>
        <translation>Mindeststufe</translation>
    </message>
    <message>
        <source>Choose which kinds of events to show</source>
        <translation>Auswählen, welche Ereignisarten angezeigt werden</translation>
    </message>
    <message>
        <source>Event kinds</source>
        <translation>Ereignisarten</translation>
    </message>
    <message>
        <source>Search message, type or job id</source>
        <translation>Meldung, Typ oder Job-ID suchen</translation>
    </message>
    <message>
        <source>Search the log</source>
        <translation>Protokoll durchsuchen</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Kopieren</translation>
    </message>
    <message>
        <source>Copy the selected events as text</source>
        <translation>Die ausgewählten Ereignisse als Text kopieren</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>&amp;Exportieren…</translation>
    </message>
    <message>
        <source>Save the shown events as text or JSON lines</source>
        <translation>Die angezeigten Ereignisse als Text oder JSON Lines speichern</translation>
    </message>
    <message>
        <source>C&amp;lear</source>
        <comment>empty the log pane</comment>
        <translation>&amp;Leeren</translation>
    </message>
    <message>
        <source>Remove every event from the log pane</source>
        <translation>Alle Ereignisse aus dem Protokollbereich entfernen</translation>
    </message>
    <message>
        <source>Log events</source>
        <translation>Protokollereignisse</translation>
    </message>
    <message>
        <source>Select &amp;All</source>
        <translation>&amp;Alles auswählen</translation>
    </message>
    <message>
        <source>Show All Events</source>
        <translation>Alle Ereignisse anzeigen</translation>
    </message>
    <message>
        <source>Show Job Events Only</source>
        <translation>Nur Job-Ereignisse anzeigen</translation>
    </message>
    <message>
        <source>All events</source>
        <translation>Alle Ereignisse</translation>
    </message>
    <message>
        <source>Events: %1 of %2</source>
        <translation>Ereignisse: %1 von %2</translation>
    </message>
    <message>
        <source>1 event</source>
        <comment>log pane status</comment>
        <translation>1 Ereignis</translation>
    </message>
    <message>
        <source>%1 events</source>
        <comment>log pane status</comment>
        <translation>%1 Ereignisse</translation>
    </message>
    <message>
        <source>%1 of %2</source>
        <comment>log pane status: shown of all events</comment>
        <translation>%1 von %2</translation>
    </message>
    <message>
        <source>%1 older events were discarded; the log pane keeps the newest %2.</source>
        <translation>%1 ältere Ereignisse wurden verworfen; der Protokollbereich behält die neuesten %2.</translation>
    </message>
    <message>
        <source>The log pane keeps the newest %1 events.</source>
        <translation>Der Protokollbereich behält die neuesten %1 Ereignisse.</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>%1 kann nicht geschrieben werden: %2</translation>
    </message>
    <message>
        <source>Text files (*.log *.txt)</source>
        <translation>Textdateien (*.log *.txt)</translation>
    </message>
    <message>
        <source>JSON lines (*.jsonl *.json)</source>
        <translation>JSON Lines (*.jsonl *.json)</translation>
    </message>
    <message>
        <source>Export Log</source>
        <translation>Protokoll exportieren</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::MainWindow</name>
    <message>
        <source>OddJobs</source>
        <translation>OddJobs</translation>
    </message>
    <message>
        <source>Jobs</source>
        <translation>Jobs</translation>
    </message>
    <message>
        <source>Sorting is offered for ID, type, status, priority and the times.</source>
        <translation>Sortieren ist nach ID, Typ, Status, Priorität und den Zeitangaben möglich.</translation>
    </message>
    <message>
        <source>No database</source>
        <translation>Keine Datenbank</translation>
    </message>
    <message>
        <source>Search by id or payload text</source>
        <translation>ID oder Nutzdaten suchen</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>Suche</translation>
    </message>
    <message>
        <source>Status: all</source>
        <translation>Status: alle</translation>
    </message>
    <message>
        <source>Status filter</source>
        <translation>Statusfilter</translation>
    </message>
    <message>
        <source>Any type</source>
        <translation>Typ</translation>
    </message>
    <message>
        <source>Type filter</source>
        <translation>Typfilter</translation>
    </message>
    <message>
        <source>Any queue</source>
        <translation>Warteschlange</translation>
    </message>
    <message>
        <source>Queue filter</source>
        <translation>Warteschlangenfilter</translation>
    </message>
    <message>
        <source>Any worker</source>
        <translation>Worker</translation>
    </message>
    <message>
        <source>Worker filter</source>
        <translation>Worker-Filter</translation>
    </message>
    <message>
        <source>Time filter</source>
        <translation>Zeitfilter</translation>
    </message>
    <message>
        <source>Any time</source>
        <translation>Jederzeit</translation>
    </message>
    <message>
        <source>Created in the last 15 minutes</source>
        <translation>Erstellt: letzte 15 Min.</translation>
    </message>
    <message>
        <source>Created in the last hour</source>
        <translation>Erstellt: letzte Stunde</translation>
    </message>
    <message>
        <source>Created in the last 24 hours</source>
        <translation>Erstellt: letzte 24 Std.</translation>
    </message>
    <message>
        <source>Created in the last 7 days</source>
        <translation>Erstellt: letzte 7 Tage</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Zurücksetzen</translation>
    </message>
    <message>
        <source>Clear all filters</source>
        <translation>Alle Filter zurücksetzen</translation>
    </message>
    <message>
        <source>Job Detail</source>
        <translation>Job-Details</translation>
    </message>
    <message>
        <source>Log</source>
        <translation>Protokoll</translation>
    </message>
    <message>
        <source>Statistics</source>
        <translation>Statistik</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Datei</translation>
    </message>
    <message>
        <source>&amp;Open Database…</source>
        <translation>Datenbank ö&amp;ffnen…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>&amp;Jobs</source>
        <translation>&amp;Jobs</translation>
    </message>
    <message>
        <source>&amp;Enqueue…</source>
        <translation>&amp;Einreihen…</translation>
    </message>
    <message>
        <source>&amp;Edit…</source>
        <translation>&amp;Bearbeiten…</translation>
    </message>
    <message>
        <source>D&amp;uplicate</source>
        <translation>&amp;Duplizieren</translation>
    </message>
    <message>
        <source>&amp;Run Now / Retry</source>
        <translation>&amp;Jetzt ausführen / erneut versuchen</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>&amp;Abbrechen</translation>
    </message>
    <message>
        <source>&amp;Delete</source>
        <translation>&amp;Löschen</translation>
    </message>
    <message>
        <source>Act on All &amp;Matching the Filter</source>
        <translation>Auf alle &amp;Treffer anwenden</translation>
    </message>
    <message>
        <source>Run now, cancel and delete apply to every job matching the filter instead of the selection</source>
        <translation>„Jetzt ausführen“, „Abbrechen“ und „Löschen“ wirken auf alle zum Filter passenden Jobs statt auf die Auswahl</translation>
    </message>
    <message>
        <source>Re&amp;fresh</source>
        <translation>A&amp;ktualisieren</translation>
    </message>
    <message>
        <source>&amp;Worker</source>
        <translation>&amp;Worker</translation>
    </message>
    <message>
        <source>&amp;Start Worker</source>
        <translation>Worker &amp;starten</translation>
    </message>
    <message>
        <source>S&amp;top Worker</source>
        <translation>Worker &amp;anhalten</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>&amp;Ansicht</translation>
    </message>
    <message>
        <source>Find</source>
        <translation>Suchen</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>&amp;About OddJobs</source>
        <translation>Ü&amp;ber OddJobs</translation>
    </message>
    <message>
        <source>About OddJobs</source>
        <translation>Über OddJobs</translation>
    </message>
    <message>
        <source>&lt;h3&gt;OddJobs %1&lt;/h3&gt;&lt;p&gt;A background-job queue in PostgreSQL or SQLite, with a worker and this dashboard.&lt;/p&gt;&lt;p&gt;BSD-3-Clause license.&lt;/p&gt;</source>
        <translation>&lt;h3&gt;OddJobs %1&lt;/h3&gt;&lt;p&gt;Eine Warteschlange für Hintergrund-Jobs in PostgreSQL oder SQLite, mit einem Worker und diesem Dashboard.&lt;/p&gt;&lt;p&gt;Lizenz: BSD-3-Clause.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Main</source>
        <translation>Hauptwerkzeugleiste</translation>
    </message>
    <message>
        <source>Concurrency: </source>
        <translation>Parallelität: </translation>
    </message>
    <message>
        <source>Jobs the embedded worker runs at once (applies when it starts)</source>
        <translation>Jobs, die der eingebettete Worker gleichzeitig ausführt (gilt ab seinem nächsten Start)</translation>
    </message>
    <message>
        <source>Concurrency</source>
        <translation>Parallelität</translation>
    </message>
    <message>
        <source>Opening %1…</source>
        <translation>%1 wird geöffnet…</translation>
    </message>
    <message>
        <source>Not connected</source>
        <translation>Nicht verbunden</translation>
    </message>
    <message>
        <source>%1 · table %2 · monitor only (read-only)</source>
        <translation>%1 · Tabelle %2 · nur Überwachung (schreibgeschützt)</translation>
    </message>
    <message>
        <source>%1 · table %2</source>
        <translation>%1 · Tabelle %2</translation>
    </message>
    <message>
        <source>OddJobs — %1</source>
        <translation>OddJobs — %1</translation>
    </message>
    <message>
        <source>Status: %1</source>
        <translation>Status: %1</translation>
    </message>
    <message>
        <source>&amp;Run All Matching Now</source>
        <translation>&amp;Jetzt alle Treffer ausführen</translation>
    </message>
    <message>
        <source>&amp;Cancel All Matching</source>
        <translation>Alle Treffer &amp;abbrechen</translation>
    </message>
    <message>
        <source>&amp;Delete All Matching</source>
        <translation>Alle Treffer &amp;löschen</translation>
    </message>
    <message>
        <source>No worker (monitor only)</source>
        <translation>Kein Worker (nur Überwachung)</translation>
    </message>
    <message>
        <source>Worker stopped</source>
        <translation>Worker angehalten</translation>
    </message>
    <message>
        <source>Worker starting</source>
        <translation>Worker startet</translation>
    </message>
    <message>
        <source>Worker running</source>
        <translation>Worker läuft</translation>
    </message>
    <message>
        <source>Worker draining</source>
        <translation>Worker läuft aus</translation>
    </message>
    <message>
        <source>Worker stopping</source>
        <translation>Worker hält an</translation>
    </message>
    <message numerus="yes">
        <source>%n running</source>
        <translation>
            <numerusform>%n läuft</numerusform>
            <numerusform>%n laufen</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 jobs/s</source>
        <translation>%1 Jobs/s</translation>
    </message>
    <message>
        <source>Worker: %1</source>
        <translation>Worker: %1</translation>
    </message>
    <message>
        <source>Enqueued job %1</source>
        <translation>Job %1 eingereiht</translation>
    </message>
    <message>
        <source>Edit Job</source>
        <translation>Job bearbeiten</translation>
    </message>
    <message>
        <source>Job %1 is running. Cancel it or wait until it finishes to edit it.</source>
        <translation>Job %1 läuft gerade. Brechen Sie ihn ab oder warten Sie, bis er beendet ist, um ihn zu bearbeiten.</translation>
    </message>
    <message>
        <source>Run now</source>
        <translation>Jetzt ausführen</translation>
    </message>
    <message>
        <source>Cancel jobs</source>
        <translation>Jobs abbrechen</translation>
    </message>
    <message>
        <source>Delete jobs</source>
        <translation>Jobs löschen</translation>
    </message>
    <message numerus="yes">
        <source>Delete %n selected job(s)? This cannot be undone.</source>
        <translation>
            <numerusform>%n ausgewählten Job löschen? Dies kann nicht rückgängig gemacht werden.</numerusform>
            <numerusform>%n ausgewählte Jobs löschen? Dies kann nicht rückgängig gemacht werden.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n job(s) queued to run now</source>
        <translation>
            <numerusform>%n Job zur sofortigen Ausführung eingereiht</numerusform>
            <numerusform>%n Jobs zur sofortigen Ausführung eingereiht</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n job(s) cancelled</source>
        <translation>
            <numerusform>%n Job abgebrochen</numerusform>
            <numerusform>%n Jobs abgebrochen</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n job(s) deleted</source>
        <translation>
            <numerusform>%n Job gelöscht</numerusform>
            <numerusform>%n Jobs gelöscht</numerusform>
        </translation>
    </message>
    <message>
        <source>Duplicate</source>
        <translation>Duplizieren</translation>
    </message>
    <message numerus="yes">
        <source>%n job(s) duplicated</source>
        <translation>
            <numerusform>%n Job dupliziert</numerusform>
            <numerusform>%n Jobs dupliziert</numerusform>
        </translation>
    </message>
    <message>
        <source>Matching: %L1</source>
        <translation>Treffer: %L1</translation>
    </message>
    <message>
        <source>Run every job matching the filter now? (%L1 in all)</source>
        <translation>Alle Jobs, die dem Filter entsprechen, jetzt ausführen? (insgesamt %L1)</translation>
    </message>
    <message>
        <source>Cancel every job matching the filter, running ones too? (%L1 in all)</source>
        <translation>Alle Jobs, die dem Filter entsprechen, abbrechen, auch laufende? (insgesamt %L1)</translation>
    </message>
    <message>
        <source>Delete every job matching the filter? (%L1 in all) This cannot be undone.</source>
        <translation>Alle Jobs, die dem Filter entsprechen, löschen? (insgesamt %L1) Das lässt sich nicht rückgängig machen.</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::StatsModel</name>
    <message>
        <source>&lt;0.01</source>
        <comment>jobs per second below the shown precision</comment>
        <translation>&lt;0,01</translation>
    </message>
    <message>
        <source>—</source>
        <comment>no value</comment>
        <translation>—</translation>
    </message>
    <message>
        <source>%1%</source>
        <comment>success rate</comment>
        <translation>%1&#xa0;%</translation>
    </message>
    <message numerus="yes">
        <source>%1: %Ln job(s) in the table</source>
        <translation>
            <numerusform>%1: %Ln Job in der Tabelle</numerusform>
            <numerusform>%1: %Ln Jobs in der Tabelle</numerusform>
        </translation>
    </message>
    <message>
        <source>No job of this type finished in the selected period.</source>
        <translation>Im gewählten Zeitraum wurde kein Job dieses Typs beendet.</translation>
    </message>
    <message>
        <source>In the selected period: %1 succeeded, %2 failed.</source>
        <translation>Im gewählten Zeitraum: %1 erfolgreich, %2 fehlgeschlagen.</translation>
    </message>
    <message>
        <source>Type</source>
        <comment>job type</comment>
        <translation>Typ</translation>
    </message>
    <message>
        <source>Queued</source>
        <comment>job status</comment>
        <translation>Eingereiht</translation>
    </message>
    <message>
        <source>Running</source>
        <comment>job status</comment>
        <translation>Läuft</translation>
    </message>
    <message>
        <source>Retry</source>
        <comment>job status</comment>
        <translation>Wiederholung</translation>
    </message>
    <message>
        <source>Success</source>
        <comment>job status</comment>
        <translation>Erfolgreich</translation>
    </message>
    <message>
        <source>Failed</source>
        <comment>job status</comment>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <comment>job status</comment>
        <translation>Abgebrochen</translation>
    </message>
    <message>
        <source>Success rate</source>
        <translation>Erfolgsquote</translation>
    </message>
    <message>
        <source>Jobs/s</source>
        <comment>successful jobs per second</comment>
        <translation>Jobs/s</translation>
    </message>
    <message>
        <source>p50</source>
        <comment>median duration</comment>
        <translation>p50</translation>
    </message>
    <message>
        <source>p95</source>
        <comment>95th percentile duration</comment>
        <translation>p95</translation>
    </message>
    <message>
        <source>The job type (the payload&apos;s tag)</source>
        <translation>Der Job-Typ (der Wert von &quot;tag&quot; in den Nutzdaten)</translation>
    </message>
    <message>
        <source>Jobs waiting to run (now or at a later time)</source>
        <translation>Jobs, die auf ihre Ausführung warten (sofort oder später)</translation>
    </message>
    <message>
        <source>Jobs a worker is running now</source>
        <translation>Jobs, die gerade von einem Worker ausgeführt werden</translation>
    </message>
    <message>
        <source>Jobs that failed and wait for another attempt</source>
        <translation>Fehlgeschlagene Jobs, die auf einen weiteren Versuch warten</translation>
    </message>
    <message>
        <source>Jobs that succeeded (kept until pruned)</source>
        <translation>Erfolgreiche Jobs (bleiben bis zum Aufräumen erhalten)</translation>
    </message>
    <message>
        <source>Jobs that failed with no attempts left</source>
        <translation>Fehlgeschlagene Jobs ohne verbleibende Versuche</translation>
    </message>
    <message>
        <source>Jobs that were cancelled</source>
        <translation>Abgebrochene Jobs</translation>
    </message>
    <message>
        <source>Share of the jobs finished in the selected period that succeeded</source>
        <translation>Anteil der im gewählten Zeitraum beendeten Jobs, die erfolgreich waren</translation>
    </message>
    <message>
        <source>Successful jobs per second over the selected period</source>
        <translation>Erfolgreiche Jobs pro Sekunde im gewählten Zeitraum</translation>
    </message>
    <message>
        <source>Median run time of the attempts finished in the selected period</source>
        <translation>Median der Laufzeit der im gewählten Zeitraum beendeten Versuche</translation>
    </message>
    <message>
        <source>95% of the attempts finished in the selected period ran at most this long</source>
        <translation>95&#xa0;% der im gewählten Zeitraum beendeten Versuche liefen höchstens so lange</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::StatsPanel</name>
    <message>
        <source>Last 5 minutes</source>
        <translation>Letzte 5 Minuten</translation>
    </message>
    <message>
        <source>Last hour</source>
        <translation>Letzte Stunde</translation>
    </message>
    <message>
        <source>Last 24 hours</source>
        <translation>Letzte 24 Stunden</translation>
    </message>
    <message>
        <source>The period the rates, durations and the chart cover</source>
        <translation>Der Zeitraum, auf den sich Quoten, Laufzeiten und das Diagramm beziehen</translation>
    </message>
    <message>
        <source>Statistics period</source>
        <translation>Statistikzeitraum</translation>
    </message>
    <message>
        <source>Show All Types</source>
        <translation>Alle Typen anzeigen</translation>
    </message>
    <message>
        <source>Chart every job type again (Esc)</source>
        <translation>Wieder alle Job-Typen im Diagramm zeigen (Esc)</translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation>&amp;Aktualisieren</translation>
    </message>
    <message>
        <source>Load the statistics now</source>
        <translation>Statistik jetzt laden</translation>
    </message>
    <message>
        <source>Statistics per job type</source>
        <translation>Statistik je Job-Typ</translation>
    </message>
    <message>
        <source>No database</source>
        <translation>Keine Datenbank</translation>
    </message>
    <message>
        <source>Open a SQLite file or a PostgreSQL database to see statistics.</source>
        <translation>Öffnen Sie eine SQLite-Datei oder eine PostgreSQL-Datenbank, um die Statistik zu sehen.</translation>
    </message>
    <message>
        <source>Updated %1</source>
        <translation>Aktualisiert um %1</translation>
    </message>
    <message>
        <source>Cannot load statistics: %1</source>
        <translation>Statistik kann nicht geladen werden: %1</translation>
    </message>
    <message>
        <source>last 5 minutes</source>
        <translation>letzte 5 Minuten</translation>
    </message>
    <message>
        <source>last hour</source>
        <translation>letzte Stunde</translation>
    </message>
    <message>
        <source>last 24 hours</source>
        <translation>letzte 24 Stunden</translation>
    </message>
    <message>
        <source>Finished jobs, all types · %1</source>
        <comment>chart title</comment>
        <translation>Beendete Jobs, alle Typen · %1</translation>
    </message>
    <message>
        <source>Finished jobs, %1 · %2</source>
        <comment>chart title: type, period</comment>
        <translation>Beendete Jobs, %1 · %2</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::StoreClient</name>
    <message>
        <source>Not connected to a database.</source>
        <translation>Nicht mit einer Datenbank verbunden.</translation>
    </message>
</context>
<context>
    <name>OddJobs::Ui::ThroughputChart</name>
    <message>
        <source>Throughput chart</source>
        <translation>Durchsatzdiagramm</translation>
    </message>
    <message>
        <source>%1
Succeeded: %2
Failed: %3</source>
        <comment>chart tooltip: interval and counts</comment>
        <translation>%1
Erfolgreich: %2
Fehlgeschlagen: %3</translation>
    </message>
    <message>
        <source>No data.</source>
        <translation>Keine Daten.</translation>
    </message>
    <message>
        <source>%1. %2 intervals of %3: %4 succeeded, %5 failed; the busiest interval had %6 finished jobs.</source>
        <translation>%1. %2 Intervalle zu je %3: %4 erfolgreich, %5 fehlgeschlagen; im stärksten Intervall wurden %6 Jobs beendet.</translation>
    </message>
    <message>
        <source>Throughput</source>
        <translation>Durchsatz</translation>
    </message>
    <message>
        <source>Failed %1</source>
        <comment>chart legend with total</comment>
        <translation>Fehlgeschlagen %1</translation>
    </message>
    <message>
        <source>Succeeded %1</source>
        <comment>chart legend with total</comment>
        <translation>Erfolgreich %1</translation>
    </message>
    <message>
        <source>No data</source>
        <translation>Keine Daten</translation>
    </message>
    <message>
        <source>No jobs finished in this period</source>
        <translation>In diesem Zeitraum wurden keine Jobs beendet</translation>
    </message>
</context>
</TS>
