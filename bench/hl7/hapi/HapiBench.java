import ca.uhn.hl7v2.DefaultHapiContext;
import ca.uhn.hl7v2.HL7Exception;
import ca.uhn.hl7v2.HapiContext;
import ca.uhn.hl7v2.model.Composite;
import ca.uhn.hl7v2.model.Group;
import ca.uhn.hl7v2.model.Message;
import ca.uhn.hl7v2.model.Primitive;
import ca.uhn.hl7v2.model.Segment;
import ca.uhn.hl7v2.model.Structure;
import ca.uhn.hl7v2.model.Type;
import ca.uhn.hl7v2.model.Varies;
import ca.uhn.hl7v2.parser.GenericModelClassFactory;
import ca.uhn.hl7v2.parser.Parser;
import ca.uhn.hl7v2.util.Terser;
import ca.uhn.hl7v2.validation.impl.ValidationContextFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The HAPI side of bench/hl7: parse every message of the corpus and read every OBX-5, the same
 * work as the JavaScript adapters, then print one JSON line with the pass times.
 *
 * <p>Usage: {@code java -cp target/lib/*:target/classes HapiBench <variant> <corpus> <values-out>
 * <warmup-seconds>}. The corpus file holds MLLP blocks (0x0B message 0x1C 0x0D), UTF-8. The values
 * file receives the canonical OBX-5 values of one untimed pass, each ended by NUL, each message
 * ended by 0x01 (0x02 before it when the parse threw), for the harness to compare with the
 * expected answer. Then, like bench/hl7/parse.worker.ts, it prints {@code {"type":"ready"}},
 * times one pass per {@code pass} line on stdin, and on {@code finish} prints its result.
 *
 * <p>Variants: {@code pipe} PipeParser with the version's structures and default validation;
 * {@code pipe-novalidation} the same without validation; {@code generic-novalidation} the
 * GenericModelClassFactory (no message structures) without validation; {@code terser} like
 * pipe-novalidation but reading each OBX-5 component through {@link Terser}.
 */
public final class HapiBench {
  private static final char COMPONENT_MARK = '\u001f';
  private static final char REPETITION_MARK = '\u001e';

  private interface Reader {
    void read(Message message, List<String> out) throws HL7Exception;
  }

  public static void main(String[] args) throws Exception {
    String variant = args[0];
    List<String> corpus = readCorpus(Path.of(args[1]));
    Path valuesOut = Path.of(args[2]);
    double warmupSeconds = Double.parseDouble(args[3]);

    HapiContext context = new DefaultHapiContext();
    boolean terser = false;
    switch (variant) {
      case "pipe":
        break;
      case "pipe-novalidation":
        context.setValidationContext(ValidationContextFactory.noValidation());
        break;
      case "generic-novalidation":
        context.setValidationContext(ValidationContextFactory.noValidation());
        context.setModelClassFactory(new GenericModelClassFactory());
        break;
      case "terser":
        context.setValidationContext(ValidationContextFactory.noValidation());
        terser = true;
        break;
      default:
        throw new IllegalArgumentException("unknown variant " + variant);
    }
    Parser parser = context.getPipeParser();
    Reader reader = terser ? HapiBench::readWithTerser : HapiBench::readDirect;

    // Answer check: one untimed pass, values written for the harness.
    int valueCount = 0;
    int errors = 0;
    String firstError = null;
    try (Writer w = Files.newBufferedWriter(valuesOut, StandardCharsets.UTF_8)) {
      List<String> values = new ArrayList<>();
      for (int i = 0; i < corpus.size(); i++) {
        values.clear();
        try {
          reader.read(parser.parse(corpus.get(i)), values);
          for (String v : values) {
            w.write(v);
            w.write('\0');
          }
          valueCount += values.size();
        } catch (HL7Exception | RuntimeException e) {
          errors++;
          if (firstError == null) firstError = "message " + i + ": " + e;
          w.write('\u0002'); // this message threw
        }
        w.write('\u0001'); // end of message
      }
    }

    // JIT warm-up: whole passes until the time is spent.
    long warmupEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
    int warmupPasses = 0;
    long checksum;
    do {
      checksum = pass(parser, reader, corpus);
      warmupPasses++;
    } while (System.nanoTime() < warmupEnd);
    System.out.println(
        "{\"type\":\"ready\",\"warmupPasses\":" + warmupPasses + ",\"checksum\":" + checksum + "}");

    // Timed passes, one per "pass" line from the harness, until "finish".
    BufferedReader commands =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String command;
    while ((command = commands.readLine()) != null) {
      command = command.trim();
      if (command.equals("finish")) break;
      if (!command.equals("pass")) continue;
      System.gc();
      long t0 = System.nanoTime();
      long sum = pass(parser, reader, corpus);
      double ms = (System.nanoTime() - t0) / 1e6;
      System.out.println("{\"type\":\"pass\",\"ms\":" + ms + ",\"checksum\":" + sum + "}");
    }

    // Retained heap of the parsed corpus (every message kept, OBX-5 read).
    List<Message> kept = new ArrayList<>(corpus.size());
    long before = usedHeapAfterGc();
    List<String> sink = new ArrayList<>();
    for (String text : corpus) {
      try {
        Message m = parser.parse(text);
        sink.clear();
        reader.read(m, sink);
        kept.add(m);
      } catch (HL7Exception | RuntimeException e) {
        // counted in the answer pass
      }
    }
    long after = usedHeapAfterGc();

    StringBuilder json = new StringBuilder();
    json.append("{\"type\":\"result\",\"variant\":\"").append(variant).append('"');
    json.append(",\"java\":\"Java ").append(System.getProperty("java.runtime.version")).append('"');
    json.append(",\"messages\":").append(corpus.size());
    json.append(",\"values\":").append(valueCount);
    json.append(",\"errors\":").append(errors);
    json.append(",\"firstError\":").append(firstError == null ? "null" : quote(firstError));
    json.append(",\"warmupPasses\":").append(warmupPasses);
    json.append(",\"retainedBytes\":").append(Math.max(0, after - before));
    json.append(",\"kept\":").append(kept.size());
    json.append(",\"peakRssKb\":").append(peakRssKb());
    json.append('}');
    System.out.println(json);
  }

  /** One pass; the checksum (value count plus total length) keeps the work observable. */
  private static long pass(Parser parser, Reader reader, List<String> corpus) {
    long sum = 0;
    List<String> out = new ArrayList<>();
    for (String text : corpus) {
      out.clear();
      try {
        reader.read(parser.parse(text), out);
      } catch (HL7Exception | RuntimeException e) {
        sum -= 1_000_000;
      }
      sum += out.size();
      for (String v : out) sum += v.length();
    }
    return sum;
  }

  /** Direct access: walk the groups to every OBX and read field 5's types. */
  private static void readDirect(Message message, List<String> out) throws HL7Exception {
    List<Segment> obx = new ArrayList<>();
    collectObx(message, obx);
    StringBuilder sb = new StringBuilder();
    for (Segment segment : obx) {
      sb.setLength(0);
      Type[] reps = segment.getField(5);
      for (int r = 0; r < reps.length; r++) {
        if (r > 0) sb.append(REPETITION_MARK);
        appendRepetition(reps[r], sb);
      }
      out.add(sb.toString());
    }
  }

  /** Terser: the same segments, each component read with Terser.get(segment, 5, rep, comp, 1). */
  private static void readWithTerser(Message message, List<String> out) throws HL7Exception {
    List<Segment> obx = new ArrayList<>();
    collectObx(message, obx);
    StringBuilder sb = new StringBuilder();
    for (Segment segment : obx) {
      sb.setLength(0);
      Type[] reps = segment.getField(5);
      for (int r = 0; r < reps.length; r++) {
        if (r > 0) sb.append(REPETITION_MARK);
        int components = Terser.numComponents(reps[r]);
        int last = sb.length();
        for (int c = 1; c <= components; c++) {
          if (c > 1) sb.append(COMPONENT_MARK);
          String v = Terser.get(segment, 5, r, c, 1);
          if (v != null) sb.append(v);
          if (v != null && !v.isEmpty()) last = sb.length();
        }
        sb.setLength(last); // trailing empty components are not data
      }
      out.add(sb.toString());
    }
  }

  private static void collectObx(Group group, List<Segment> out) throws HL7Exception {
    for (String name : group.getNames()) {
      for (Structure s : group.getAll(name)) {
        if (s instanceof Group) {
          collectObx((Group) s, out);
        } else if ("OBX".equals(s.getName())) {
          out.add((Segment) s);
        }
      }
    }
  }

  /** Components joined by the mark, trailing empty ones dropped (as HL7 allows). */
  private static void appendRepetition(Type type, StringBuilder sb) {
    Type t = type instanceof Varies ? ((Varies) type).getData() : type;
    int start = sb.length();
    if (t instanceof Composite) {
      Type[] components = ((Composite) t).getComponents();
      int last = start;
      for (int c = 0; c < components.length; c++) {
        if (c > 0) sb.append(COMPONENT_MARK);
        appendText(components[c], sb);
        if (sb.length() > last && !endsWithMark(sb)) last = sb.length();
      }
      sb.setLength(last);
    } else {
      appendText(t, sb);
    }
  }

  private static boolean endsWithMark(StringBuilder sb) {
    char c = sb.charAt(sb.length() - 1);
    return c == COMPONENT_MARK || c == REPETITION_MARK;
  }

  /** A component's text; subcomponents joined by '&'. */
  private static void appendText(Type type, StringBuilder sb) {
    Type t = type instanceof Varies ? ((Varies) type).getData() : type;
    if (t instanceof Primitive) {
      String v = ((Primitive) t).getValue();
      if (v != null) sb.append(v);
    } else if (t instanceof Composite) {
      Type[] subs = ((Composite) t).getComponents();
      for (int s = 0; s < subs.length; s++) {
        if (s > 0) sb.append('&');
        appendText(subs[s], sb);
      }
    }
  }

  private static List<String> readCorpus(Path file) throws IOException {
    String all = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    List<String> messages = new ArrayList<>();
    int i = 0;
    while (true) {
      int start = all.indexOf('\u000b', i);
      if (start < 0) break;
      int end = all.indexOf('\u001c', start);
      messages.add(all.substring(start + 1, end));
      i = end + 2;
    }
    return messages;
  }

  private static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static long peakRssKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux: no figure
    }
    return -1;
  }

  private static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') sb.append('\\').append(c);
      else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
      else sb.append(c);
    }
    return sb.append('"').toString();
  }
}
