"""Annotation formats: list files, the Kinetics CSV + video layouts, the SSv2 JSONs."""
import json

import pytest

from videoswin.datasets.annotations import (AnnotationError, parse_rawframe_list,
                                            parse_video_list, read_class_names,
                                            write_class_names, write_rawframe_list,
                                            write_video_list)
from videoswin.datasets.kinetics_annotations import (index_video_files, kinetics_class_names,
                                                     locate_clip, match_clips,
                                                     read_kinetics_csv)
from videoswin.datasets.sthv2_annotations import (class_names_in_order, read_sthv2_labels,
                                                  read_sthv2_split, template_to_class)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- list files -------------------------------------------------------------------------
def test_video_list_reads_paths_with_spaces_and_unlabelled_lines(tmp_path):
    ann = write(tmp_path / 'l.txt', 'air drumming/a b.mp4 3\n\nzumba/c.mp4 0\nunlabelled.mp4\n')
    assert parse_video_list(ann, num_classes=4) == [
        dict(filename='air drumming/a b.mp4', label=3), dict(filename='zumba/c.mp4', label=0),
        dict(filename='unlabelled.mp4', label=-1)]


def test_video_list_round_trips_through_the_writer(tmp_path):
    samples = [('a/x y.mp4', 2), ('b.webm', 0), ('test.mp4', None)]
    assert write_video_list(tmp_path / 'l.txt', samples) == 3
    parsed = parse_video_list(tmp_path / 'l.txt')
    assert [(s['filename'], s['label']) for s in parsed] == [('a/x y.mp4', 2), ('b.webm', 0),
                                                             ('test.mp4', -1)]


@pytest.mark.parametrize('line, message', [
    ('a.mp4 cat', 'last field must be an integer'),
    ('a.mp4 -3', 'negative'),
    ('a.mp4 7', 'outside the 5 classes'),
])
def test_malformed_video_list_line_is_one_error_naming_file_and_line(tmp_path, line, message):
    ann = write(tmp_path / 'bad.txt', f'ok.mp4 1\n{line}\n')
    with pytest.raises(AnnotationError, match=message) as info:
        parse_video_list(ann, num_classes=5)
    assert str(info.value).startswith(f'{ann}:2:')


def test_rawframe_list_reads_dir_count_label_and_rejects_bad_counts(tmp_path):
    write_rawframe_list(tmp_path / 'r.txt', [('v 1', 30, 2), ('v2', 12, None)])
    assert parse_rawframe_list(tmp_path / 'r.txt', num_classes=3) == [
        dict(frame_dir='v 1', total_frames=30, label=2),
        dict(frame_dir='v2', total_frames=12, label=-1)]
    bad = write(tmp_path / 'bad.txt', 'v1 30 1\nv2 0 1\n')
    with pytest.raises(AnnotationError, match=rf'{bad}:2: total_frames'):
        parse_rawframe_list(bad)
    bad = write(tmp_path / 'bad2.txt', 'v1 thirty one\n')
    with pytest.raises(AnnotationError, match=rf'{bad}:1:'):
        parse_rawframe_list(bad)


def test_multi_label_lines_keep_every_label(tmp_path):
    ann = write(tmp_path / 'm.txt', 'a.mp4 1 3\nb.mp4 0\n')
    assert [s['label'] for s in parse_video_list(ann, 4, multi_label=True)] == [[1, 3], [0]]
    frames = write(tmp_path / 'mf.txt', 'a 10 1 2\n')
    assert parse_rawframe_list(frames, 4, multi_label=True)[0]['label'] == [1, 2]


def test_class_index_file_round_trips_and_rejects_duplicates(tmp_path):
    write_class_names(tmp_path / 'c.txt', ['abseiling', 'air drumming'])
    assert read_class_names(tmp_path / 'c.txt') == ['abseiling', 'air drumming']
    dup = write(tmp_path / 'd.txt', 'a\nb\na\n')
    with pytest.raises(AnnotationError, match=rf"{dup}:3: class 'a' is already on line 1"):
        read_class_names(dup)


# -- Kinetics ---------------------------------------------------------------------------
K400_CSV = ('label,youtube_id,time_start,time_end,split,is_cc\n'
            'zumba,zz1,4,14,train,0\n'
            '"passing American football (in game)",pa1,10,20,train,0\n'
            'air drumming,ad1,0,10,train,0\n'
            'abseiling,ab1,30,40,train,1\n')


def test_kinetics_csv_rows_and_alphabetical_class_index(tmp_path):
    clips = read_kinetics_csv(write(tmp_path / 'train.csv', K400_CSV))
    assert [c.stem for c in clips] == ['zz1_000004_000014', 'pa1_000010_000020',
                                       'ad1_000000_000010', 'ab1_000030_000040']
    assert kinetics_class_names(clips) == sorted(['zumba', 'passing American football (in game)',
                                                  'air drumming', 'abseiling'])
    assert clips[1].line == 3 and clips[0].split == 'train'


def test_kinetics_test_csv_without_labels_and_validate_split_alias(tmp_path):
    clips = read_kinetics_csv(write(tmp_path / 't.csv', 'youtube_id,time_start,time_end,split\n'
                                                      'x1,0,10,validate\n'))
    assert clips[0].label is None and clips[0].split == 'val'


@pytest.mark.parametrize('text, message', [
    ('label,id,start\nzumba,a,1\n', ':1: not a Kinetics CSV'),
    ('label,youtube_id,time_start,time_end,split\nzumba,a,1.5,11,train\n', ':2: time_start'),
    ('label,youtube_id,time_start,time_end,split\nzumba,a,9,3,train\n',
     ':2: time_end 3 is not after'),
    ('label,youtube_id,time_start,time_end,split\nzumba,a,1\n', ':2: expected 5 columns'),
])
def test_malformed_kinetics_csv_names_file_and_line(tmp_path, text, message):
    csv_path = write(tmp_path / 'x.csv', text)
    with pytest.raises(AnnotationError, match=message) as info:
        read_kinetics_csv(csv_path)
    assert str(info.value).startswith(str(csv_path))


def test_kinetics_videos_are_found_in_every_downloader_layout(tmp_path):
    clips = read_kinetics_csv(write(tmp_path / 'train.csv', K400_CSV))
    root = tmp_path / 'videos'
    layout = ['train/zumba/zz1_000004_000014.mp4',                              # class folder
              'train/passing_American_football_(in_game)/pa1_000010_000020.mkv',  # underscores
              'train/ad1_000000_000010.webm',                                     # flat
              'train/air drumming/ab1_000030_000040.mp4',                          # wrong folder,
              'train/abseiling/ab1_000030_000040.mp4']                            # right one
    for relative in layout:
        write(root / relative, '')
    index = index_video_files(root)
    assert [locate_clip(c, index) for c in clips] == [layout[0], layout[1], layout[2], layout[4]]


def test_kinetics_rows_without_video_are_counted_not_fatal(tmp_path):
    clips = read_kinetics_csv(write(tmp_path / 'train.csv', K400_CSV))
    write(tmp_path / 'v/train/zumba/zz1_000004_000014.mp4', '')
    names = kinetics_class_names(clips)
    found, missing = match_clips(clips, index_video_files(tmp_path / 'v'), names)
    assert found == [('train/zumba/zz1_000004_000014.mp4', names.index('zumba'))]
    assert [c.youtube_id for c in missing] == ['pa1', 'ad1', 'ab1']


def test_kinetics_label_missing_from_the_class_index_names_the_csv_line(tmp_path):
    csv_path = write(tmp_path / 'train.csv', K400_CSV)
    clips = read_kinetics_csv(csv_path)
    with pytest.raises(AnnotationError, match=rf"{csv_path}:2: class 'zumba' is not in"):
        match_clips(clips, {}, ['abseiling'], source=csv_path)


# -- Something-Something V2 ----------------------------------------------------------------
def test_sthv2_template_without_brackets_is_the_class():
    assert template_to_class('Putting [something] next to [something]') == \
        'Putting something next to something'


def test_sthv2_splits_map_templates_to_label_indices(tmp_path):
    labels = write(tmp_path / 'labels.json', json.dumps(
        {'Moving something up': '1', 'Putting something next to something': '0'}))
    train = write(tmp_path / 'train.json', json.dumps([
        {'id': '7', 'label': 'moving a cup up', 'template': 'Moving [something] up',
         'placeholders': ['a cup']},
        {'id': '9', 'label': 'putting a pen next to a box',
         'template': 'Putting [something] next to [something]', 'placeholders': ['a', 'b']}]))
    test = write(tmp_path / 'test.json', json.dumps([{'id': '11'}]))
    table = read_sthv2_labels(labels)
    assert class_names_in_order(table) == ['Putting something next to something',
                                           'Moving something up']
    assert read_sthv2_split(train, table) == [('7', 1), ('9', 0)]
    assert read_sthv2_split(test, table) == [('11', -1)]


def test_sthv2_unknown_template_and_bad_labels_file_are_clear_errors(tmp_path):
    labels = write(tmp_path / 'labels.json', json.dumps({'Moving something up': '0'}))
    split = write(tmp_path / 'val.json', json.dumps([
        {'id': '1', 'template': 'Moving [something] up'},
        {'id': '2', 'template': 'Moving [something] sideways'}]))
    with pytest.raises(AnnotationError, match=r"val.json: entry 1 \(id 2\).*'Moving something "
                                              r"sideways'"):
        read_sthv2_split(split, read_sthv2_labels(labels))
    gaps = write(tmp_path / 'gaps.json', json.dumps({'a': '0', 'b': '2'}))
    with pytest.raises(AnnotationError, match='not exactly 0..1'):
        read_sthv2_labels(gaps)
    broken = write(tmp_path / 'broken.json', '{"a": "0",\n oops}')
    with pytest.raises(AnnotationError, match=rf'{broken}:2: not valid JSON'):
        read_sthv2_labels(broken)
